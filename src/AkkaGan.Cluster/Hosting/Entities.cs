using Akka.Cluster.Sharding;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Hosting;

/// <summary>ActorRegistry key of the discriminator shard region (or its proxy on nodes without the role).</summary>
public sealed class DiscriminatorRegion;

/// <summary>ActorRegistry key of the generator shard region (or its proxy).</summary>
public sealed class GeneratorRegion;

/// <summary>ActorRegistry key of the coordinator singleton's proxy.</summary>
public sealed class CoordinatorSingleton;

/// <summary>Cluster roles and entity type names (DESIGN.md section 1).</summary>
public static class Roles
{
    /// <summary>The coordinator singleton's role.</summary>
    public const string Coordinator = "coordinator";
    /// <summary>The generator entities' role and shard type.</summary>
    public const string Generator = "generator";
    /// <summary>The discriminator entities' role and shard type.</summary>
    public const string Discriminator = "discriminator";
    /// <summary>The dispatcher (cluster.hocon) compute actors run on, so heartbeats on the default one never starve.</summary>
    public const string ComputeDispatcher = "akkagan.compute-dispatcher";
    /// <summary>The dispatcher (cluster.hocon, one thread) the run's outputs are written on: plots and checkpoint files never hold up the thread pool.</summary>
    public const string OutputDispatcher = "akkagan.output-dispatcher";
}

/// <summary>
/// Routes the messages of <c>d-i</c> entities (<see cref="IWithEntityId"/>, chunks and bulk references). Each member is its own shard
/// (shard id <c>i</c>), so that the allocation strategy, which places a new shard on the discriminator node with the
/// fewest, gives every member a node of its own while there are enough nodes and spreads a larger population evenly
/// (a hash of the id would put two members in one shard, hence on one node, while another node has none).
/// </summary>
public sealed class DiscriminatorMessageExtractor : IMessageExtractor
{
    /// <summary>The <c>d-i</c> id a message is for (null: not a discriminator's).</summary>
    public string? EntityId(object message) => message switch
    {
        IWithEntityId e when !EntityIds.IsGenerator(e.EntityId) => e.EntityId,
        IWirePart p when p.Entity.StartsWith("d-", StringComparison.Ordinal) => p.Entity,
        _ => null,
    };

    /// <summary>The message itself: entities receive what was sent.</summary>
    public object EntityMessage(object message) => message;

    /// <summary>The shard of the message's entity (null: not a discriminator's).</summary>
    public string? ShardId(object message) => EntityId(message) is { } id ? ShardId(id) : null;

    /// <summary>The member's index; an id that is not <c>d-i</c> keeps its own shard (its entity refuses it).</summary>
    public string ShardId(string entityId, object? messageHint = null)
        => entityId.StartsWith("d-", StringComparison.Ordinal) ? entityId[2..] : entityId;
}

/// <summary>Routes the messages of <c>g-i</c> entities.</summary>
public sealed class GeneratorMessageExtractor : HashCodeMessageExtractor
{
    /// <summary>An extractor of 10 shards.</summary>
    public GeneratorMessageExtractor() : base(maxNumberOfShards: 10) { }

    /// <summary>The <c>g-i</c> id a message is for (null: not a generator's).</summary>
    public override string? EntityId(object message) => message switch
    {
        IWithEntityId e when EntityIds.IsGenerator(e.EntityId) => e.EntityId,
        IWirePart p when p.Entity.StartsWith("g-", StringComparison.Ordinal) => p.Entity,
        _ => null,
    };
}
