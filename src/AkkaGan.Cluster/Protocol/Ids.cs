using System.Globalization;

namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// Marker of every message that crosses a node boundary; cluster.hocon binds it to
/// <see cref="Serialization.AkkaGanSerializer"/>, so no wire message can fall back to another serializer.
/// </summary>
public interface IAkkaGanWireMessage;

/// <summary>A discriminator of the population: member index i, sharding entity id <c>d-i</c>.</summary>
public readonly record struct DiscriminatorId(int Member)
{
    public string EntityId => "d-" + Member.ToString(CultureInfo.InvariantCulture);

    public override string ToString() => EntityId;

    /// <summary>Parses <c>d-i</c>; throws <see cref="FormatException"/> naming the bad id.</summary>
    public static DiscriminatorId Parse(string entityId)
        => entityId.StartsWith("d-", StringComparison.Ordinal)
           && int.TryParse(entityId.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var member)
            ? new DiscriminatorId(member)
            : throw new FormatException($"'{entityId}' is not a discriminator id (expected d-<index>)");
}

/// <summary>A generator: entity id <c>g-i</c> (one generator, <c>g-0</c>, today).</summary>
public readonly record struct GeneratorId(int Index)
{
    public static readonly GeneratorId Default = new(0);

    public string EntityId => "g-" + Index.ToString(CultureInfo.InvariantCulture);

    public override string ToString() => EntityId;
}

/// <summary>Messages routed to a discriminator entity by the sharding message extractor.</summary>
public interface IWithDiscriminatorId
{
    DiscriminatorId Discriminator { get; }
}

/// <summary>Messages routed to a generator entity by the sharding message extractor.</summary>
public interface IWithGeneratorId
{
    GeneratorId Generator { get; }
}
