using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// Marker of every message that crosses a node boundary; cluster.hocon binds it to
/// <see cref="Serialization.AkkaGanSerializer"/>, so no wire message can fall back to another serializer.
/// </summary>
public interface IAkkaGanWireMessage;

/// <summary>
/// A message for one entity, routed by the shard extractors on its id: <c>g-i</c> to the generator region,
/// <c>d-i</c> to the discriminator region (the ids are Core's <see cref="GeneratorId"/> and <see cref="DiscriminatorId"/>).
/// </summary>
public interface IWithEntityId
{
    /// <summary>The target entity's id (<c>g-i</c>, <c>d-i</c>): the shard extractors route the message on it.</summary>
    string EntityId { get; }
}

/// <summary>
/// A request to an entity: its <see cref="RequestId"/> (chosen by the requester) comes back in every answer, so the
/// requester matches answers by id, never by their type.
/// </summary>
public interface IEntityRequest : IAkkaGanWireMessage, IWithEntityId
{
    /// <summary>The requester's id for this request, new for each of its requests; every answer carries it back.</summary>
    long RequestId { get; }
}

/// <summary>An entity's answer to the request <see cref="RequestId"/>.</summary>
public interface IEntityReply : IAkkaGanWireMessage
{
    /// <summary>The answering entity.</summary>
    string EntityId { get; }

    /// <summary>The <see cref="IEntityRequest.RequestId"/> of the request this answers.</summary>
    long RequestId { get; }
}

/// <summary>Entity ids as messages carry them: parsed and checked, so a corrupt id names itself.</summary>
public static class EntityIds
{
    /// <summary>Whether <paramref name="entityId"/> names a generator (<c>g-...</c>); it is not checked further.</summary>
    public static bool IsGenerator(string entityId) => entityId.StartsWith("g-", StringComparison.Ordinal);

    /// <summary>The run's entities: the generator, then <paramref name="members"/> in order (a checkpoint's order).</summary>
    public static string[] Of(IEnumerable<int> members) => [GeneratorId.Default.EntityId, .. members.Select(m => new DiscriminatorId(m).EntityId)];

    /// <summary>Throws <see cref="FormatException"/> unless <paramref name="entityId"/> is <c>g-i</c> or <c>d-i</c>.</summary>
    public static string Check(string entityId)
    {
        if (IsGenerator(entityId) && int.TryParse(entityId.AsSpan(2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
            return entityId;
        return DiscriminatorId.Parse(entityId).EntityId;
    }
}
