using Akka.Actor;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// What a <c>GeneratorActor</c> (entity <c>g-0</c>) accepts and answers. The generator sends fake batches to the
/// discriminators itself (G -> D_i) and gathers their gradients (D_i -> G); the coordinator only schedules.
/// </summary>
public static class GeneratorProtocol
{
    /// <summary>A command for the generator entity.</summary>
    public interface ICommand : IAkkaGanWireMessage, IWithGeneratorId;

    /// <summary>
    /// Creates the generator's computation from the run's settings. Answered with <see cref="Configured"/>. With a
    /// <paramref name="RunId"/> (and a state store on its node) it saves its state at checkpoint rounds under <c>&lt;run-id&gt;/g-0</c>.
    /// </summary>
    public sealed record Configure(GeneratorId Generator, string SettingsJson, IActorRef ReplyTo, string RunId = "") : ICommand;

    /// <summary>
    /// A whole round in one command, as the coordinator schedules it: the critic phase (<paramref name="CriticSteps"/>
    /// fake batches for each of <paramref name="Critics"/>, sent as <see cref="DiscriminatorProtocol.TrainStep"/>s whose
    /// reports go to <paramref name="ReplyTo"/>), then at once the generator step: x_fake = G(z) with the graph kept, sent
    /// to <paramref name="Members"/>, whose gradients are aggregated in member order and stepped (members that have not
    /// answered within <paramref name="Timeout"/> are left out). A discriminator handles its messages in the order sent, so its feedback is computed
    /// after its critic steps, exactly as in the reference engine, while the critic phase costs no extra round trip.
    /// Answered with <see cref="GeneratorStepped"/> (the critic reports go to <paramref name="ReplyTo"/> from each member).
    /// </summary>
    public sealed record RunRound(GeneratorId Generator, long Round, int CriticSteps, int[] Critics, int[] Members, TimeSpan Timeout, IActorRef ReplyTo) : ICommand;

    /// <summary>A fake batch for fitness measurement, sent to the listed members as <see cref="DiscriminatorProtocol.MeasureFitness"/>.</summary>
    public sealed record ProduceFitnessBatch(GeneratorId Generator, long Round, int[] Members, IActorRef ReplyTo) : ICommand;

    /// <summary>Evaluation samples from the fixed noise stream. Answered with <see cref="SamplesProduced"/>.</summary>
    public sealed record GetSamples(GeneratorId Generator, int Count, IActorRef ReplyTo) : ICommand;

    /// <summary>The generator's state for a checkpoint. Answered with <see cref="SnapshotTaken"/>, after the state store has it (with a run id and a store).</summary>
    public sealed record GetSnapshot(GeneratorId Generator, long Round, IActorRef ReplyTo) : ICommand;

    /// <summary>Replace the generator's state (resume, recovery). Answered with <see cref="Restored"/>.</summary>
    public sealed record RestoreSnapshot(GeneratorId Generator, EntitySnapshot Snapshot, IActorRef ReplyTo) : ICommand;

    /// <summary>
    /// Replace the generator's state with its own snapshot of round <paramref name="Round"/> from the state store. Answered
    /// with <see cref="Restored"/>, or <see cref="CommandRejected"/> when the store lacks it (the coordinator then pushes it).
    /// </summary>
    public sealed record RecoverFromStore(GeneratorId Generator, long Round, IActorRef ReplyTo) : ICommand;

    /// <summary>A live change: the generator's new settings (learning rate, aggregation). Answered with <see cref="SettingsApplied"/>.</summary>
    public sealed record ApplySettings(GeneratorId Generator, string SettingsJson, long Round, IActorRef ReplyTo) : ICommand;

    /// <summary>The shard's stop message when the generator's shard moves: it sends its state to the coordinator and stops. Local only.</summary>
    public sealed record HandOff
    {
        public static readonly HandOff Instance = new();
    }

    /// <summary>The generator's state as it stopped for a hand-off (after round <paramref name="Round"/>).</summary>
    public sealed record HandedOff(GeneratorId Generator, long Round, string Node, EntitySnapshot Snapshot) : IAkkaGanWireMessage;

    /// <param name="Node">The address of the node the entity runs on (placement, shown to users).</param>
    public sealed record Configured(GeneratorId Generator, string Node) : IAkkaGanWireMessage;

    /// <summary>The generator step's outcome: the core's own result record, and whose feedback it aggregated.</summary>
    /// <param name="Answered">The members whose feedback was aggregated (sorted).</param>
    public sealed record GeneratorStepped(GeneratorId Generator, GeneratorStepResult Result, int[] Answered) : IAkkaGanWireMessage;

    public sealed record SamplesProduced(GeneratorId Generator, TensorPayload Samples) : IAkkaGanWireMessage;

    public sealed record SnapshotTaken(GeneratorId Generator, long Round, EntitySnapshot Snapshot) : IAkkaGanWireMessage;

    public sealed record SettingsApplied(GeneratorId Generator, long Round) : IAkkaGanWireMessage;

    /// <summary>The state of a <see cref="RestoreSnapshot"/> is in place.</summary>
    public sealed record Restored(GeneratorId Generator, string Node) : IAkkaGanWireMessage;

    /// <summary>A command the generator refused; the reason names the problem and the generator keeps its state.</summary>
    public sealed record CommandRejected(GeneratorId Generator, long Round, string Command, string Reason) : IAkkaGanWireMessage;
}
