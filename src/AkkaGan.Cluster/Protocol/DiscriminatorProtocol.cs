using Akka.Actor;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// What a <c>DiscriminatorActor</c> (entity <c>d-i</c>) accepts and answers. Commands carry the discriminator id for
/// the shard extractor and the round they belong to; replies go to the <c>ReplyTo</c> named in the command.
/// </summary>
public static class DiscriminatorProtocol
{
    /// <summary>A command for one discriminator entity.</summary>
    public interface ICommand : IAkkaGanWireMessage, IWithDiscriminatorId;

    /// <summary>
    /// Creates (or re-creates) the member's computation from the run's settings, with its own loss and learning rate
    /// (heterogeneous populations). Answered with <see cref="Configured"/>. With a <paramref name="RunId"/> (and a state store
    /// on its node) the member saves its state at checkpoint rounds under <c>&lt;run-id&gt;/d-i</c>.
    /// </summary>
    public sealed record Configure(DiscriminatorId Discriminator, string SettingsJson, LossKind Loss, double LearningRate, IActorRef ReplyTo, string RunId = "") : ICommand;

    /// <summary>One optimizer step on this fake batch (sent G -> D directly). Answered with <see cref="TrainStepDone"/>.</summary>
    public sealed record TrainStep(DiscriminatorId Discriminator, long Round, int CriticStep, TensorPayload Fake, IActorRef ReplyTo) : ICommand;

    /// <summary>The generator loss and dL/dx_fake under the K-step lookahead. Answered with <see cref="FeedbackComputed"/>.</summary>
    public sealed record ComputeFeedback(DiscriminatorId Discriminator, long Round, TensorPayload Fake, IActorRef ReplyTo) : ICommand;

    /// <summary>Fitness (AUC) on this fake batch and the round's shared real batch. Answered with <see cref="FitnessMeasured"/>.</summary>
    public sealed record MeasureFitness(DiscriminatorId Discriminator, long Round, TensorPayload Fake, IActorRef ReplyTo) : ICommand;

    /// <summary>Send this member's weights and optimizer state to <paramref name="Target"/> (D -> D transfer).</summary>
    public sealed record TransferWeights(DiscriminatorId Discriminator, DiscriminatorId Target, double LearningRate, long Round, IActorRef ReplyTo) : ICommand;

    /// <summary>Take over another member's state with a new learning rate. Answered with <see cref="WeightsAdopted"/>.</summary>
    public sealed record AdoptWeights(DiscriminatorId Discriminator, EntitySnapshot Snapshot, double LearningRate, long Round, IActorRef ReplyTo) : ICommand;

    /// <summary>
    /// This member's state for a checkpoint. Answered with <see cref="SnapshotTaken"/>, after the state store has it (when
    /// the member has a run id and its node a store), so a completed checkpoint is in the store too.
    /// </summary>
    public sealed record GetSnapshot(DiscriminatorId Discriminator, long Round, IActorRef ReplyTo) : ICommand;

    /// <summary>Replace this member's state (resume, recovery). Answered with <see cref="Restored"/>.</summary>
    public sealed record RestoreSnapshot(DiscriminatorId Discriminator, EntitySnapshot Snapshot, IActorRef ReplyTo) : ICommand;

    /// <summary>
    /// Replace this member's state with its own snapshot of round <paramref name="Round"/> from the state store (recovery
    /// without the state crossing the wire). Answered with <see cref="Restored"/>, or <see cref="CommandRejected"/> when the
    /// store has no such snapshot (or this node has no store): the coordinator then sends <see cref="RestoreSnapshot"/>.
    /// </summary>
    public sealed record RecoverFromStore(DiscriminatorId Discriminator, long Round, IActorRef ReplyTo) : ICommand;

    /// <summary>
    /// A live change: take this member's settings from the run's new ones (<see cref="Core.Training.RunChanges"/>), the
    /// optimizer's learning rate too when <paramref name="ResetLearningRate"/>. Answered with <see cref="SettingsApplied"/>.
    /// </summary>
    public sealed record ApplySettings(DiscriminatorId Discriminator, string SettingsJson, bool ResetLearningRate, long Round, IActorRef ReplyTo) : ICommand;

    /// <summary>This member left the population: drop its state and passivate. Not answered.</summary>
    public sealed record Retire(DiscriminatorId Discriminator, long Round) : ICommand;

    /// <summary>
    /// The shard's stop message when this member's shard moves (its node leaves the cluster): the member sends its state
    /// to the coordinator (<see cref="HandedOff"/>) and stops, so it resumes on its new node from where it was. Local only.
    /// </summary>
    public sealed record HandOff
    {
        public static readonly HandOff Instance = new();
    }

    /// <summary>A member's state as it stopped for a hand-off, for the coordinator to restore it from on its new node.</summary>
    public sealed record HandedOff(DiscriminatorId Discriminator, long Round, string Node, EntitySnapshot Snapshot) : IAkkaGanWireMessage;

    /// <param name="Node">The address of the node the entity runs on (placement, shown to users).</param>
    public sealed record Configured(DiscriminatorId Discriminator, string Node) : IAkkaGanWireMessage;

    /// <summary>A critic step's outcome: the core's own result record, as the reference engine reports it.</summary>
    public sealed record TrainStepDone(DiscriminatorStepResult Result) : IAkkaGanWireMessage
    {
        public DiscriminatorId Discriminator => new(Result.Member);
    }

    public sealed record FeedbackComputed(DiscriminatorId Discriminator, long Round, double Loss, TensorPayload Gradient) : IAkkaGanWireMessage;

    public sealed record FitnessMeasured(DiscriminatorId Discriminator, long Round, double Fitness) : IAkkaGanWireMessage;

    public sealed record WeightsAdopted(DiscriminatorId Discriminator, long Round, double LearningRate) : IAkkaGanWireMessage;

    public sealed record SnapshotTaken(DiscriminatorId Discriminator, long Round, EntitySnapshot Snapshot) : IAkkaGanWireMessage;

    public sealed record SettingsApplied(DiscriminatorId Discriminator, long Round) : IAkkaGanWireMessage;

    /// <summary>The state of a <see cref="RestoreSnapshot"/> is in place (a reply distinct from <see cref="Configured"/>, so a late answer to a repeated Configure is never taken for it).</summary>
    public sealed record Restored(DiscriminatorId Discriminator, string Node) : IAkkaGanWireMessage;

    /// <summary>
    /// A command the entity refused (not configured, stale round, tensor of the wrong shape, ...): the reason names
    /// the problem; the entity keeps running with its state unchanged.
    /// </summary>
    public sealed record CommandRejected(DiscriminatorId Discriminator, long Round, string Command, string Reason) : IAkkaGanWireMessage;
}
