using Akka.Actor;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// A discriminator's role work (entity <c>d-i</c>; what every entity does is <see cref="EntityProtocol"/>). Requests
/// carry the round they belong to and the request id of the coordinator's request they serve (a critic step serves the
/// round's <see cref="GeneratorProtocol.RunRound"/>); answers go to the <c>ReplyTo</c> named in the request.
/// </summary>
public static class DiscriminatorProtocol
{
    /// <summary>A role request for one discriminator entity.</summary>
    public interface IRequest : IEntityRequest
    {
        /// <summary>The discriminator the request is for; its entity id routes it.</summary>
        DiscriminatorId Discriminator { get; }

        string IWithEntityId.EntityId => Discriminator.EntityId;
    }

    /// <summary>One optimizer step on this fake batch (sent G -> D directly). Answered with <see cref="TrainStepDone"/>.</summary>
    /// <param name="Discriminator">The member that steps.</param>
    /// <param name="RequestId">The id of the round's <see cref="GeneratorProtocol.RunRound"/>, echoed in the answer.</param>
    /// <param name="Round">The round being played; a discriminator already past it refuses the step as stale.</param>
    /// <param name="CriticStep">Which of the round's critic steps this is, from 0.</param>
    /// <param name="Fake">The generator's detached fake batch for this member and step, (B, ...sample shape).</param>
    /// <param name="ReplyTo">Where the report goes: the coordinator's round child, not the generator.</param>
    public sealed record TrainStep(DiscriminatorId Discriminator, long RequestId, long Round, int CriticStep, TensorPayload Fake, IActorRef ReplyTo) : IRequest;

    /// <summary>The generator loss and dL/dx_fake under the K-step lookahead. Answered with <see cref="FeedbackComputed"/>.</summary>
    /// <param name="Discriminator">The member asked.</param>
    /// <param name="RequestId">The id of the round's <see cref="GeneratorProtocol.RunRound"/>, echoed in the answer.</param>
    /// <param name="Round">The round being played.</param>
    /// <param name="Fake">The generator step's x_fake, (B, ...sample shape).</param>
    /// <param name="ReplyTo">The generator, which aggregates the answers.</param>
    public sealed record ComputeFeedback(DiscriminatorId Discriminator, long RequestId, long Round, TensorPayload Fake, IActorRef ReplyTo) : IRequest;

    /// <summary>Fitness (AUC) on this fake batch and the round's shared real batch. Answered with <see cref="FitnessMeasured"/>.</summary>
    /// <param name="Discriminator">The member measured.</param>
    /// <param name="RequestId">The id of the coordinator's <see cref="GeneratorProtocol.ProduceFitnessBatch"/>, echoed back.</param>
    /// <param name="Round">The round completed, which seeds the shared real batch.</param>
    /// <param name="Fake">The generator's fitness batch, the same for every member, (B, ...sample shape).</param>
    /// <param name="ReplyTo">Where the answer goes (the coordinator's step child).</param>
    public sealed record MeasureFitness(DiscriminatorId Discriminator, long RequestId, long Round, TensorPayload Fake, IActorRef ReplyTo) : IRequest;

    /// <summary>Send this member's weights and optimizer state to <paramref name="Target"/> (D -> D transfer), which answers with <see cref="WeightsAdopted"/>.</summary>
    /// <param name="Discriminator">The member whose state is copied (evolution's best).</param>
    /// <param name="RequestId">The id of the coordinator's request it serves, echoed in the answer.</param>
    /// <param name="Target">The member that takes the state (evolution's worst).</param>
    /// <param name="LearningRate">The target's new learning rate (the source's, perturbed).</param>
    /// <param name="Round">The round completed.</param>
    /// <param name="ReplyTo">Where the target's answer goes.</param>
    public sealed record TransferWeights(DiscriminatorId Discriminator, long RequestId, DiscriminatorId Target, double LearningRate, long Round, IActorRef ReplyTo) : IRequest;

    /// <summary>Take over another member's state with a new learning rate. Answered with <see cref="WeightsAdopted"/>.</summary>
    /// <param name="Discriminator">The member that takes the state.</param>
    /// <param name="RequestId">The id of the <see cref="TransferWeights"/> request it completes, echoed in the answer.</param>
    /// <param name="Snapshot">The source member's weights and optimizer state.</param>
    /// <param name="LearningRate">The learning rate the member's optimizer takes.</param>
    /// <param name="Round">The round completed.</param>
    /// <param name="ReplyTo">Where the answer goes (the <see cref="TransferWeights"/>' reply address).</param>
    public sealed record AdoptWeights(DiscriminatorId Discriminator, long RequestId, EntitySnapshot Snapshot, double LearningRate, long Round, IActorRef ReplyTo) : IRequest;

    /// <summary>This member left the population: drop its state and passivate. Not answered.</summary>
    /// <param name="Discriminator">The member removed.</param>
    /// <param name="Round">The round after which it left.</param>
    public sealed record Retire(DiscriminatorId Discriminator, long Round) : IAkkaGanWireMessage, IWithEntityId
    {
        /// <inheritdoc/>
        public string EntityId => Discriminator.EntityId;
    }

    /// <summary>A critic step's outcome: the core's own result record, as the reference engine reports it.</summary>
    /// <param name="RequestId">The <see cref="TrainStep"/>'s request id (the round's).</param>
    /// <param name="Result">The member, round and critic step, the loss and penalty, mean logits, gradient norm and accuracy.</param>
    public sealed record TrainStepDone(long RequestId, DiscriminatorStepResult Result) : IEntityReply
    {
        /// <summary>The member that stepped (from <see cref="Result"/>).</summary>
        public DiscriminatorId Discriminator => new(Result.Member);

        string IEntityReply.EntityId => Discriminator.EntityId;
    }

    /// <summary>A member's answer in the generator step, sent to the generator.</summary>
    /// <param name="Discriminator">The member that answers.</param>
    /// <param name="RequestId">The <see cref="ComputeFeedback"/>'s request id.</param>
    /// <param name="Round">The round being played.</param>
    /// <param name="Loss">The member's generator loss L_i on x_fake under its lookahead (its real weights unchanged).</param>
    /// <param name="Gradient">dL_i/dx_fake, the shape of x_fake, in the run's wire element type (<c>train.wire-dtype</c>).</param>
    public sealed record FeedbackComputed(DiscriminatorId Discriminator, long RequestId, long Round, double Loss, TensorPayload Gradient) : IEntityReply
    {
        string IEntityReply.EntityId => Discriminator.EntityId;
    }

    /// <summary>A member's fitness for evolution and evaluation.</summary>
    /// <param name="Discriminator">The member measured.</param>
    /// <param name="RequestId">The <see cref="MeasureFitness"/>'s request id.</param>
    /// <param name="Round">The round completed.</param>
    /// <param name="Fitness">AUC of its logits, real over fake, in [0, 1] (0.5: it cannot tell them apart); higher is fitter.</param>
    public sealed record FitnessMeasured(DiscriminatorId Discriminator, long RequestId, long Round, double Fitness) : IEntityReply
    {
        string IEntityReply.EntityId => Discriminator.EntityId;
    }

    /// <summary>The target of a D -> D transfer holds the source's state and its new learning rate.</summary>
    /// <param name="Discriminator">The member that took the state.</param>
    /// <param name="RequestId">The <see cref="AdoptWeights"/>' (and so the <see cref="TransferWeights"/>') request id.</param>
    /// <param name="Round">The round completed.</param>
    /// <param name="LearningRate">The learning rate its optimizer now has.</param>
    public sealed record WeightsAdopted(DiscriminatorId Discriminator, long RequestId, long Round, double LearningRate) : IEntityReply
    {
        string IEntityReply.EntityId => Discriminator.EntityId;
    }
}
