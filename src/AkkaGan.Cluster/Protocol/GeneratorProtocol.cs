using Akka.Actor;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// The generator's role work (entity <c>g-0</c>; what every entity does is <see cref="EntityProtocol"/>). The generator
/// sends fake batches to the discriminators itself (G -> D_i) and gathers their gradients (D_i -> G); the coordinator
/// only schedules.
/// </summary>
public static class GeneratorProtocol
{
    /// <summary>A role request for the generator entity.</summary>
    public interface IRequest : IEntityRequest
    {
        /// <summary>The generator the request is for.</summary>
        GeneratorId Generator { get; }

        string IWithEntityId.EntityId => Generator.EntityId;
    }

    /// <summary>
    /// A whole round in one command, as the coordinator schedules it: the critic phase (<paramref name="CriticSteps"/>
    /// fake batches for each of <paramref name="Critics"/>, sent as <see cref="DiscriminatorProtocol.TrainStep"/>s with
    /// this request's id, whose reports go to <paramref name="ReplyTo"/>), then at once the generator step: x_fake = G(z)
    /// with the graph kept, sent to <paramref name="Members"/>, whose gradients are aggregated in member order and stepped
    /// (members that have not answered within <paramref name="Timeout"/> are left out). A discriminator handles its messages
    /// in the order sent, so its feedback is computed after its critic steps, exactly as in the reference engine, while the
    /// critic phase costs no extra round trip. Answered with <see cref="GeneratorStepped"/>.
    /// </summary>
    public sealed record RunRound(GeneratorId Generator, long RequestId, long Round, int CriticSteps, IReadOnlyList<int> Critics, IReadOnlyList<int> Members,
        TimeSpan Timeout, IActorRef ReplyTo) : IRequest;

    /// <summary>A fake batch for fitness measurement, sent to the listed members as <see cref="DiscriminatorProtocol.MeasureFitness"/> with this request's id.</summary>
    public sealed record ProduceFitnessBatch(GeneratorId Generator, long RequestId, long Round, IReadOnlyList<int> Members, IActorRef ReplyTo) : IRequest;

    /// <summary>Evaluation samples from the fixed noise stream. Answered with <see cref="SamplesProduced"/>.</summary>
    public sealed record GetSamples(GeneratorId Generator, long RequestId, int Count, IActorRef ReplyTo) : IRequest;

    /// <summary>The generator step's outcome: the core's own result record, and whose feedback it aggregated (sorted).</summary>
    public sealed record GeneratorStepped(GeneratorId Generator, long RequestId, GeneratorStepResult Result, IReadOnlyList<int> Answered) : IEntityReply
    {
        string IEntityReply.EntityId => Generator.EntityId;
    }

    /// <summary>The answer to <see cref="GetSamples"/>.</summary>
    /// <param name="Generator">The generator.</param>
    /// <param name="RequestId">The request.</param>
    /// <param name="Samples">The samples, float32, (count, sample shape...).</param>
    public sealed record SamplesProduced(GeneratorId Generator, long RequestId, TensorPayload Samples) : IEntityReply
    {
        string IEntityReply.EntityId => Generator.EntityId;
    }
}
