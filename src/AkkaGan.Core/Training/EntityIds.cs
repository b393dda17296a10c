using System.Globalization;

namespace AkkaGan.Core.Training;

/// <summary>
/// A discriminator of the population: member index i, entity id <c>d-i</c> (its sharding entity id, its checkpoint
/// section, its name in reports and errors). The one place the id is spelled.
/// </summary>
public readonly record struct DiscriminatorId(int Member)
{
    /// <summary>The entity id, <c>d-i</c>.</summary>
    public string EntityId => "d-" + Member.ToString(CultureInfo.InvariantCulture);

    /// <summary>The entity id.</summary>
    public override string ToString() => EntityId;

    /// <summary>Parses <c>d-i</c>; throws <see cref="FormatException"/> naming the bad id.</summary>
    public static DiscriminatorId Parse(string entityId)
        => entityId.StartsWith("d-", StringComparison.Ordinal)
           && int.TryParse(entityId.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var member)
            ? new DiscriminatorId(member)
            : throw new FormatException($"'{entityId}' is not a discriminator id (expected d-<index>)");
}

/// <summary>A generator: entity id <c>g-i</c> (one generator, <c>g-0</c>, today). The one place the id is spelled.</summary>
public readonly record struct GeneratorId(int Index)
{
    /// <summary>The run's one generator, <c>g-0</c>.</summary>
    public static readonly GeneratorId Default = new(0);

    /// <summary>The entity id, <c>g-i</c>.</summary>
    public string EntityId => "g-" + Index.ToString(CultureInfo.InvariantCulture);

    /// <summary>The entity id.</summary>
    public override string ToString() => EntityId;
}

/// <summary>What every entity's computation does, whatever its role: give and take its state (parameters, optimizer moments, step count, learning rate).</summary>
public interface IEntityCore : IDisposable
{
    /// <summary>The entity's state: parameters, optimizer moments, step count and learning rate.</summary>
    Checkpoints.EntitySnapshot Snapshot();

    /// <summary>Replaces the state; throws <see cref="Checkpoints.CheckpointException"/> (and changes nothing) when it does not fit.</summary>
    void Restore(Checkpoints.EntitySnapshot snapshot);
}
