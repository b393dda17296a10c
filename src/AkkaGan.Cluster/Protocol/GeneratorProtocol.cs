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
        /// <summary>The generator the request is for (<see cref="GeneratorId.Default"/>, <c>g-0</c>); its entity id routes it.</summary>
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
    /// <param name="Generator">The generator entity (<c>g-0</c>).</param>
    /// <param name="RequestId">The coordinator's request id; every critic step and feedback request of the round carries it.</param>
    /// <param name="Round">The round to play (the rounds completed + 1).</param>
    /// <param name="CriticSteps">Critic steps per member (<c>train.n-critic</c>).</param>
    /// <param name="Critics">The members taking part: each gets its own fake batch for every critic step.</param>
    /// <param name="Members">The members whose feedback the generator step aggregates (the selection among the critics).</param>
    /// <param name="Timeout">How long the generator waits for feedback before stepping on the answers in.</param>
    /// <param name="ReplyTo">Where the critic reports and the <see cref="GeneratorStepped"/> go (the coordinator's round child).</param>
    /// <param name="Follows">0: play the round. A round number: the coordinator sent this round before that one's result was
    /// in (a round ahead); the generator plays it only if its last step was of round <paramref name="Follows"/> and every
    /// member it asked answered, and declines it otherwise (<see cref="RoundDeclined"/>). A round that arrives while a step
    /// is pending waits for that step.</param>
    public sealed record RunRound(GeneratorId Generator, long RequestId, long Round, int CriticSteps, IReadOnlyList<int> Critics, IReadOnlyList<int> Members,
        TimeSpan Timeout, IActorRef ReplyTo, long Follows = 0) : IRequest;

    /// <summary>A fake batch for fitness measurement, sent to the listed members as <see cref="DiscriminatorProtocol.MeasureFitness"/> with this request's id.</summary>
    /// <param name="Generator">The generator entity (<c>g-0</c>).</param>
    /// <param name="RequestId">The coordinator's request id, carried by every measurement request.</param>
    /// <param name="Round">The rounds completed; seeds the batch, the same for every member.</param>
    /// <param name="Members">The members to measure; each answers <see cref="DiscriminatorProtocol.FitnessMeasured"/>, the
    /// generator itself nothing.</param>
    /// <param name="ReplyTo">Where the members' answers go.</param>
    public sealed record ProduceFitnessBatch(GeneratorId Generator, long RequestId, long Round, IReadOnlyList<int> Members, IActorRef ReplyTo) : IRequest;

    /// <summary>Evaluation samples from the fixed noise stream. Answered with <see cref="SamplesProduced"/>.</summary>
    /// <param name="Generator">The generator entity (<c>g-0</c>).</param>
    /// <param name="RequestId">The requester's id, echoed in the answer.</param>
    /// <param name="Count">How many samples, at least 1 (fewer is refused); the noise is the same at every request.</param>
    /// <param name="ReplyTo">Where the samples go.</param>
    public sealed record GetSamples(GeneratorId Generator, long RequestId, int Count, IActorRef ReplyTo) : IRequest;

    /// <summary>The generator step's outcome: the core's own result record, and whose feedback it aggregated (sorted).</summary>
    /// <param name="Generator">The generator entity (<c>g-0</c>).</param>
    /// <param name="RequestId">The <see cref="RunRound"/>'s request id.</param>
    /// <param name="Result">The round, the generator loss and gradient norm, the aggregated feedback's norm, the weights' drift.</param>
    /// <param name="Answered">The members whose feedback was aggregated, ascending (not those that were late or refused).</param>
    public sealed record GeneratorStepped(GeneratorId Generator, long RequestId, GeneratorStepResult Result, IReadOnlyList<int> Answered) : IEntityReply
    {
        string IEntityReply.EntityId => Generator.EntityId;
    }

    /// <summary>
    /// A round sent ahead (<see cref="RunRound.Follows"/>) that the generator did not play, because the round it follows
    /// did not complete with every member: nothing was sent to any discriminator, and the coordinator schedules the round
    /// again with the members it has then.
    /// </summary>
    /// <param name="Generator">The generator entity (<c>g-0</c>).</param>
    /// <param name="RequestId">The <see cref="RunRound"/>'s request id.</param>
    /// <param name="Round">The round not played.</param>
    /// <param name="Reason">Why, for the log.</param>
    public sealed record RoundDeclined(GeneratorId Generator, long RequestId, long Round, string Reason) : IEntityReply
    {
        string IEntityReply.EntityId => Generator.EntityId;
    }

    /// <summary>The answer to <see cref="GetSamples"/>.</summary>
    /// <param name="Generator">The generator entity (<c>g-0</c>).</param>
    /// <param name="RequestId">The <see cref="GetSamples"/>' request id.</param>
    /// <param name="Samples">The samples at full precision (never narrowed to the wire dtype), (Count, ...sample shape).</param>
    public sealed record SamplesProduced(GeneratorId Generator, long RequestId, TensorPayload Samples) : IEntityReply
    {
        string IEntityReply.EntityId => Generator.EntityId;
    }
}
