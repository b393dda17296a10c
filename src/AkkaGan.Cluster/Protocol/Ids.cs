using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// Marker of every message that crosses a node boundary; cluster.hocon binds it to
/// <see cref="Serialization.AkkaGanSerializer"/>, so no wire message can fall back to another serializer.
/// </summary>
public interface IAkkaGanWireMessage;

// The entity ids (DiscriminatorId, GeneratorId) are Core's (AkkaGan.Core.Training.EntityIds): reports, checkpoints and
// errors name entities as the messages do.

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
