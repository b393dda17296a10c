using Akka.Actor;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// What the <c>CoordinatorActor</c> accepts, and the events it publishes to the run's observer. In this release the
/// coordinator is started by the node that runs the training, so these messages are local (not
/// <see cref="IAkkaGanWireMessage"/>); they carry the core's report records as they are.
/// </summary>
public static class CoordinatorProtocol
{
    /// <summary>
    /// Configure the generator and every discriminator from the settings, optionally restore a checkpoint, and train
    /// until the settings' rounds. Events go to <paramref name="Observer"/>. With a <paramref name="RunId"/> (and a state
    /// store on the coordinator's node) the entities save their checkpoint rounds under it and recover from them, and the
    /// coordinator saves its schedule position.
    /// </summary>
    public sealed record StartTraining(string SettingsJson, Checkpoint? Resume, IActorRef Observer, string RunId = "");

    /// <summary>Finish the current round, checkpoint, and stop (answered by <see cref="TrainingFinished"/>).</summary>
    public sealed record StopTraining;

    /// <summary>Finish the current round, then schedule nothing until <see cref="ResumeTraining"/> (a stop still works).</summary>
    public sealed record PauseTraining;

    /// <summary>Schedule rounds again after <see cref="PauseTraining"/>.</summary>
    public sealed record ResumeTraining;

    /// <summary>Checkpoint after the current round (or at once while paused): a <see cref="CheckpointTaken"/> follows.</summary>
    public sealed record CheckpointNow;

    /// <summary>
    /// An operator's change (<see cref="RunChange"/>), applied after the current round (or at once while paused):
    /// answered to the sender with <see cref="RunChanged"/> (also published to the observer) or <see cref="ChangeRefused"/>.
    /// </summary>
    public sealed record ChangeRun(RunChange Change);

    /// <summary>A change took effect: <see cref="ChangeReport"/> says what and from which round.</summary>
    public sealed record RunChanged(ChangeReport Report);

    /// <param name="Reason">Why nothing changed (an invalid value or combination, a member that could not be created).</param>
    public sealed record ChangeRefused(string Reason);

    /// <summary>Where each entity runs (entity id -> node address), once all are configured.</summary>
    public sealed record Placed(IReadOnlyDictionary<string, string> Nodes);

    /// <summary>A round is done, for the run's observer.</summary>
    public sealed record RoundCompleted(RoundReport Report);

    /// <summary>A fault detected or handled: a member suspended or recovered, a roll-back to the last checkpoint.</summary>
    public sealed record Faulted(FaultReport Report);

    /// <summary>An evaluation is done, for the run's observer.</summary>
    public sealed record Evaluated(EvaluationReport Report);

    /// <summary>A training-health diagnosis (with the remedy applied, if any), for the run's observer.</summary>
    public sealed record HealthDiagnosed(AkkaGan.Core.Health.HealthReport Report);

    /// <summary>The population evolved, for the run's observer.</summary>
    public sealed record Evolved(EvolutionReport Report);

    /// <summary>A checkpoint the coordinator assembled from the entities' snapshots; the observer writes it.</summary>
    public sealed record CheckpointTaken(Checkpoint Checkpoint);

    /// <param name="Completed">True when all rounds ran; false when stopped or failed (see <paramref name="Reason"/>).</param>
    /// <param name="NothingTrained">The run had already completed before this coordinator started (a standby taking the
    /// singleton over as the node that trained it leaves): <paramref name="Reason"/> says so; no outputs are written.</param>
    public sealed record TrainingFinished(long Round, bool Completed, string? Reason, bool NothingTrained = false);
}
