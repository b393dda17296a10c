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
        /// <summary>The member the request is for.</summary>
        DiscriminatorId Discriminator { get; }

        string IWithEntityId.EntityId => Discriminator.EntityId;
    }

    /// <summary>One optimizer step on this fake batch (sent G -> D directly). Answered with <see cref="TrainStepDone"/>.</summary>
    public sealed record TrainStep(DiscriminatorId Discriminator, long RequestId, long Round, int CriticStep, TensorPayload Fake, IActorRef ReplyTo) : IRequest;

    /// <summary>The generator loss and dL/dx_fake under the K-step lookahead. Answered with <see cref="FeedbackComputed"/>.</summary>
    public sealed record ComputeFeedback(DiscriminatorId Discriminator, long RequestId, long Round, TensorPayload Fake, IActorRef ReplyTo) : IRequest;

    /// <summary>Fitness (AUC) on this fake batch and the round's shared real batch. Answered with <see cref="FitnessMeasured"/>.</summary>
    public sealed record MeasureFitness(DiscriminatorId Discriminator, long RequestId, long Round, TensorPayload Fake, IActorRef ReplyTo) : IRequest;

    /// <summary>Send this member's weights and optimizer state to <paramref name="Target"/> (D -> D transfer), which answers with <see cref="WeightsAdopted"/>.</summary>
    public sealed record TransferWeights(DiscriminatorId Discriminator, long RequestId, DiscriminatorId Target, double LearningRate, long Round, IActorRef ReplyTo) : IRequest;

    /// <summary>Take over another member's state with a new learning rate. Answered with <see cref="WeightsAdopted"/>.</summary>
    public sealed record AdoptWeights(DiscriminatorId Discriminator, long RequestId, EntitySnapshot Snapshot, double LearningRate, long Round, IActorRef ReplyTo) : IRequest;

    /// <summary>This member left the population: drop its state and passivate. Not answered.</summary>
    public sealed record Retire(DiscriminatorId Discriminator, long Round) : IAkkaGanWireMessage, IWithEntityId
    {
        /// <inheritdoc/>
        public string EntityId => Discriminator.EntityId;
    }

    /// <summary>A critic step's outcome: the core's own result record, as the reference engine reports it.</summary>
    public sealed record TrainStepDone(long RequestId, DiscriminatorStepResult Result) : IEntityReply
    {
        /// <summary>The member that stepped.</summary>
        public DiscriminatorId Discriminator => new(Result.Member);

        string IEntityReply.EntityId => Discriminator.EntityId;
    }

    /// <summary>A member's feedback for the generator step: its generator loss and dL/dx_fake under its unrolled lookahead.</summary>
    /// <param name="Discriminator">The member.</param>
    /// <param name="RequestId">The generator's request.</param>
    /// <param name="Round">The round of the step.</param>
    /// <param name="Loss">The generator's loss under this member.</param>
    /// <param name="Gradient">dL/dx_fake, in the run's wire format.</param>
    public sealed record FeedbackComputed(DiscriminatorId Discriminator, long RequestId, long Round, double Loss, TensorPayload Gradient) : IEntityReply
    {
        string IEntityReply.EntityId => Discriminator.EntityId;
    }

    /// <summary>A member's fitness on the shared fitness batch (the AUC of real against fake scores).</summary>
    /// <param name="Discriminator">The member.</param>
    /// <param name="RequestId">The request.</param>
    /// <param name="Round">The round measured at.</param>
    /// <param name="Fitness">The AUC, in [0, 1].</param>
    public sealed record FitnessMeasured(DiscriminatorId Discriminator, long RequestId, long Round, double Fitness) : IEntityReply
    {
        string IEntityReply.EntityId => Discriminator.EntityId;
    }

    /// <summary>Evolution: the member took the best one's weights with a perturbed learning rate.</summary>
    /// <param name="Discriminator">The member.</param>
    /// <param name="RequestId">The request.</param>
    /// <param name="Round">The round of the evolution.</param>
    /// <param name="LearningRate">Its learning rate from now on.</param>
    public sealed record WeightsAdopted(DiscriminatorId Discriminator, long RequestId, long Round, double LearningRate) : IEntityReply
    {
        string IEntityReply.EntityId => Discriminator.EntityId;
    }
}
