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
    public const string Coordinator = "coordinator";
    public const string Generator = "generator";
    public const string Discriminator = "discriminator";
    /// <summary>The dispatcher (cluster.hocon) compute actors run on, so heartbeats on the default one never starve.</summary>
    public const string ComputeDispatcher = "akkagan.compute-dispatcher";
}

/// <summary>Routes the messages of <c>d-i</c> entities (<see cref="IWithEntityId"/>, chunks): shard by the id's hash.</summary>
public sealed class DiscriminatorMessageExtractor : HashCodeMessageExtractor
{
    public DiscriminatorMessageExtractor() : base(maxNumberOfShards: 10) { }

    public override string? EntityId(object message) => message switch
    {
        IWithEntityId e when !EntityIds.IsGenerator(e.EntityId) => e.EntityId,
        Chunk c when c.Entity.StartsWith("d-", StringComparison.Ordinal) => c.Entity,
        _ => null,
    };
}

/// <summary>Routes the messages of <c>g-i</c> entities.</summary>
public sealed class GeneratorMessageExtractor : HashCodeMessageExtractor
{
    public GeneratorMessageExtractor() : base(maxNumberOfShards: 10) { }

    public override string? EntityId(object message) => message switch
    {
        IWithEntityId e when EntityIds.IsGenerator(e.EntityId) => e.EntityId,
        Chunk c when c.Entity.StartsWith("g-", StringComparison.Ordinal) => c.Entity,
        _ => null,
    };
}
