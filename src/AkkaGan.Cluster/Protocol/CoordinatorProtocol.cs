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
    /// <param name="SettingsJson">The run's training settings as JSON (<c>SettingsJson.Serialize</c>); validated at the start.</param>
    /// <param name="Resume">The checkpoint to continue from (null: a fresh run, or the state store's position under
    /// <paramref name="RunId"/>).</param>
    /// <param name="Observer">Receives every event of the run, up to its <see cref="TrainingFinished"/>.</param>
    /// <param name="RunId">The run's id in the state store (empty: nothing is stored).</param>
    public sealed record StartTraining(string SettingsJson, Checkpoint? Resume, IActorRef Observer, string RunId = "");

    /// <summary>Finish the current round, checkpoint, and stop (answered by <see cref="TrainingFinished"/>).</summary>
    public sealed record StopTraining;

    /// <summary>Finish the current round, then schedule nothing until <see cref="ResumeTraining"/> (a stop still works).</summary>
    public sealed record PauseTraining;

    /// <summary>End a <see cref="PauseTraining"/>: the schedule goes on with the next round. Not answered.</summary>
    public sealed record ResumeTraining;

    /// <summary>Checkpoint after the current round (or at once while paused): a <see cref="CheckpointTaken"/> follows.</summary>
    public sealed record CheckpointNow;

    /// <summary>
    /// An operator's change (<see cref="RunChange"/>), applied after the current round (or at once while paused):
    /// answered to the sender with <see cref="RunChanged"/> (also published to the observer) or <see cref="ChangeRefused"/>.
    /// </summary>
    public sealed record ChangeRun(RunChange Change);

    /// <summary>A change was applied; sent to the <see cref="ChangeRun"/>'s sender and published to the observer.</summary>
    /// <param name="Report">What changed, the round after which it holds, and the run's settings from then on.</param>
    public sealed record RunChanged(ChangeReport Report);

    /// <param name="Reason">Why nothing changed (an invalid value or combination, a member that could not be created).</param>
    public sealed record ChangeRefused(string Reason);

    /// <summary>Where each entity runs (entity id -> node address), once all are configured.</summary>
    /// <param name="Nodes">Entity id (<c>g-0</c>, <c>d-i</c>) -> the address of its node; later messages name only those placed
    /// again (a roll-back, a recovery, a member that joined).</param>
    public sealed record Placed(IReadOnlyDictionary<string, string> Nodes);

    /// <summary>A round was played; published to the observer after every round (not one the divergence guard rolls back).</summary>
    /// <param name="Report">The round's losses and gradient norms, and which members' feedback the generator stepped on.</param>
    public sealed record RoundCompleted(RoundReport Report);

    /// <summary>A fault detected or handled: a member suspended or recovered, a roll-back to the last checkpoint.</summary>
    /// <param name="Report">The round, the entity, the kind of fault (<c>suspended</c>, <c>recovered</c>, <c>unreachable</c>, ...)
    /// and what happened.</param>
    public sealed record Faulted(FaultReport Report);

    /// <summary>
    /// An evaluation ran (every <c>train.eval-every</c> rounds, after the last and at a stop) and the generator gave its
    /// samples; published to the observer.
    /// </summary>
    /// <param name="Report">The samples, their metrics and each participant's fitness.</param>
    public sealed record Evaluated(EvaluationReport Report);

    /// <summary>A training-health diagnosis (with the remedy applied, if any), for the run's observer.</summary>
    /// <param name="Report">The diagnosis and its remedy.</param>
    public sealed record HealthDiagnosed(AkkaGan.Core.Health.HealthReport Report);

    /// <summary>
    /// An evolution step ran (every <c>train.evolve-every</c> rounds) and at least one member measured its fitness; published to
    /// the observer. When best and worst are the same member nothing was transferred.
    /// </summary>
    /// <param name="Report">The best and worst members, their fitness, and the worst one's new learning rate.</param>
    public sealed record Evolved(EvolutionReport Report);

    /// <summary>A checkpoint the coordinator assembled from the entities' snapshots; the observer writes it.</summary>
    /// <param name="Checkpoint">Every entity's state at the round, with the run's settings and each entity's own round.</param>
    public sealed record CheckpointTaken(Checkpoint Checkpoint);

    /// <summary>
    /// The run ended (the last event the observer gets); also the answer to a <see cref="StartTraining"/> sent to a
    /// coordinator that already trains or trained a run.
    /// </summary>
    /// <param name="Round">The last round completed (after a stop during a roll-back, the last checkpoint's).</param>
    /// <param name="Completed">True when all rounds ran; false when stopped or failed (see <paramref name="Reason"/>).</param>
    /// <param name="Reason">Why the run ended early, a refused start or an already completed run explained; null: it completed.</param>
    /// <param name="NothingTrained">The run had already completed before this coordinator started (a standby taking the
    /// singleton over as the node that trained it leaves): <paramref name="Reason"/> says so; no outputs are written.</param>
    public sealed record TrainingFinished(long Round, bool Completed, string? Reason, bool NothingTrained = false);
}
