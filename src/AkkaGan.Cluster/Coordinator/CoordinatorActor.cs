using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Cluster.Diagnostics;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Cluster.Wire;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;
using E = AkkaGan.Cluster.Protocol.EntityProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// Executes the run's schedule (<see cref="RunSchedule"/>, the same one <see cref="ReferenceTrainer"/> runs) on the
/// cluster and never touches a tensor. Each work step is carried out by a child (<see cref="RoundActor"/>,
/// <see cref="EvolveActor"/>, <see cref="EvaluateActor"/>, <see cref="CheckpointActor"/>, <see cref="ChangeActor"/>,
/// <see cref="SetupActor"/>, <see cref="RollBackActor"/>) that sends the step's requests, gathers the answers by request id with a timeout and
/// reports the step's result; the coordinator applies it and drives the schedule on. Phases: starting, running,
/// finished. Faults (suspended members, a lost generator, roll-backs, a restart from the store) are in <c>.Faults.cs</c>,
/// what it does with each step's result in <c>.Results.cs</c>.
/// </summary>
public sealed partial class CoordinatorActor : ReceiveActor, IWithTimers, IWithUnboundedStash, IRecoveryHost
{
    private readonly IActorRef _generator;
    private readonly IActorRef _discriminators;
    private readonly TimeSpan _stepTimeout;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LargeMessages _wire = new(Context.System);
    private readonly WireInbox _inbox;
    private readonly RunPositions _positions;
    private readonly MemberRecovery _recovery;
    private readonly Func<TrainingSettings, EvaluationMetrics> _createMetrics;
    // Made at the first evaluation (for images it loads the classifier and the real reference set), used by one evaluation at a time.
    private Lazy<EvaluationMetrics>? _metrics;
    private RunSchedule _schedule = new(new TrainingSettings());
    private IActorRef _observer = ActorRefs.Nobody;
    private int[] _members = [];
    private Dictionary<int, double> _learningRates = [];
    private long _lastRequest;
    // True while nothing runs between rounds (paused, or below the quorum): the next request or retry drives the schedule.
    private bool _idle;
    // The last full checkpoint: the roll-back target's state.
    private Checkpoint? _lastCheckpoint;
    // The roll-back in progress (a stop ends it).
    private IActorRef? _rollingBack;
    // The states the checkpoint being taken keeps for members left out of it, with their rounds.
    private Dictionary<string, (long Round, EntitySnapshot Snapshot)> _keeping = [];
    // What follows a setup in progress (the start, or a generator that moved).
    private Action<SetupActor.Result>? _setupThen;
    private IActorRef _changeRequester = ActorRefs.Nobody;

    /// <summary>A coordinator that waits for its <see cref="C.StartTraining"/>; it ignores every other message until then.</summary>
    /// <param name="generator">The generator's shard region (or proxy, or any router of <see cref="IWithEntityId"/> messages).</param>
    /// <param name="discriminators">The discriminators' shard region (or proxy, or router).</param>
    /// <param name="stepTimeout">The time entities have to answer a round's requests (<c>akkagan.cluster.step-timeout</c>); setup and work
    /// between rounds get longer.</param>
    /// <param name="metrics">The evaluation's metrics for a run's settings (default: loads the real data the settings name).</param>
    /// <param name="store">Whether this node has a state store (<see cref="StateStoreHosting"/>): the position is saved to it.</param>
    /// <param name="playAhead">Whether the next round is sent ahead of the current one's result (<c>akkagan.cluster.play-ahead</c>).</param>
    public CoordinatorActor(IActorRef generator, IActorRef discriminators, TimeSpan stepTimeout, Func<TrainingSettings, EvaluationMetrics>? metrics = null,
        bool store = false, bool playAhead = false)
    {
        _playAhead = playAhead;
        _positions = new RunPositions(EntityStore.Of(Context, store));
        _createMetrics = metrics ?? (s => EvaluationMetrics.Create(s, RunData.Create(s)));
        _generator = generator;
        _discriminators = discriminators;
        _stepTimeout = stepTimeout;
        _inbox = new WireInbox(Context.System, _log);
        _recovery = new MemberRecovery(this, _log, stepTimeout, Step.SetupTimeout);
        Receive<C.StartTraining>(Start);
        ReceiveAny(_ => { });
    }

    /// <inheritdoc/>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <inheritdoc/>
    public IStash Stash { get; set; } = null!;

    /// <summary>The coordinator's props; the parameters are the constructor's.</summary>
    /// <param name="generator">The generator's shard region (or proxy, or any router of <see cref="IWithEntityId"/> messages).</param>
    /// <param name="discriminators">The discriminators' shard region (or proxy, or router).</param>
    /// <param name="stepTimeout">The time entities have to answer a round's requests (<c>akkagan.cluster.step-timeout</c>); setup and work
    /// between rounds get longer.</param>
    /// <param name="metrics">The evaluation's metrics for a run's settings (default: loads the real data the settings name).</param>
    /// <param name="store">Whether this node has a state store: the position is saved to it.</param>
    /// <param name="playAhead">Whether the next round is sent ahead of the current one's result.</param>
    public static Props Props(IActorRef generator, IActorRef discriminators, TimeSpan stepTimeout, Func<TrainingSettings, EvaluationMetrics>? metrics = null,
        bool store = false, bool playAhead = false)
        => Akka.Actor.Props.Create(() => new CoordinatorActor(generator, discriminators, stepTimeout, metrics, store, playAhead));

    /// <summary>The run's settings in force now (live changes included); the defaults until a training starts.</summary>
    public TrainingSettings Settings => _schedule.Settings;

    /// <summary>The run's id in the state store, from <see cref="C.StartTraining"/> (empty: none, or not started).</summary>
    public string RunId => _positions.RunId;

    IActorRef IRecoveryHost.Self => Self;

    private long Round => _schedule.Round;

    /// <summary>What a step child needs: the regions, the timeout, the settings and round as they are now.</summary>
    private StepContext Step => new(_generator, _discriminators, _stepTimeout, Settings, Round, RunId, Self);

    /// <summary>The members taking part in rounds: the population without the suspended ones.</summary>
    private int[] Participants => [.. _members.Where(m => !_recovery.Suspended.Contains(m))];

    /// <summary>A new id for a request of the coordinator's own (member recovery): 1, 2, 3, ... for this coordinator.</summary>
    public long NextRequest() => ++_lastRequest;

    /// <summary>Sends a request of the coordinator's own (member recovery) to its entity's region.</summary>
    public void Send(IEntityRequest request) => _wire.Tell(EntityIds.IsGenerator(request.EntityId) ? _generator : _discriminators, request, Self);

    /// <summary>Starts the child that carries out a step (its result comes back as a message).</summary>
    private void Run(Akka.Actor.Props step) => Context.ActorOf(step);

    private void Start(C.StartTraining m)
    {
        _positions.RunId = m.RunId;
        _observer = m.Observer;
        if (_positions.Enabled && m.Resume is null) ReadPosition(m);
        else Begin(m, null);
    }

    /// <summary>Brings every entity up (configured, and restored to the checkpoint it resumes from), then drives the schedule.</summary>
    /// <param name="stored">Entities' rounds in the state store when the start continues from the store's position.</param>
    private void Begin(C.StartTraining m, IReadOnlyDictionary<string, long>? stored)
    {
        var settings = SettingsJson.Deserialize(m.SettingsJson).Validate();
        _schedule = new RunSchedule(settings, m.Resume?.Metadata.Round ?? 0);
        _metrics = new Lazy<EvaluationMetrics>(() => _createMetrics(settings));
        _members = settings.ActiveMembers;
        _learningRates = _members.ToDictionary(i => i, i => m.Resume?.Entity(new DiscriminatorId(i).EntityId).LearningRate ?? settings.ForMember(i).LrD);
        _lastCheckpoint = m.Resume;
        Become(Running);
        if (stored is not null)
        {
            _positions.Continue(stored);
            Fault(StateStore.CoordinatorEntity, "resumed", $"run {RunId} continues from the state store's position of round {Round}");
        }
        var entities = EntityIds.Of(_members);
        Setup([.. entities.Select(e => new SetupActor.Target(e, m.Resume?.Entity(e)))], Step.SetupTimeout, r =>
        {
            var missing = entities.Where(e => !r.Configured.ContainsKey(e) || (m.Resume is not null && !r.Restored.Contains(e))).ToArray();
            if (missing.Length > 0)
            {
                Fail($"{(m.Resume is null ? "configure" : "restore")} failed: {string.Join(", ", missing)} did not answer in time or refused" +
                     (r.Refusals.Count > 0 ? $" ({string.Join("; ", r.Refusals)})" : ""));
                return;
            }
            Place(r.Configured);
            Drive();
        });
    }

    /// <summary>Brings <paramref name="targets"/> up with a <see cref="SetupActor"/>; <paramref name="then"/> gets its result.</summary>
    private void Setup(SetupActor.Target[] targets, TimeSpan configureTimeout, Action<SetupActor.Result> then)
    {
        _setupThen = then;
        Run(SetupActor.Props(Step, targets, configureTimeout, [], 1));
    }

    private void Running()
    {
        // One training per coordinator: a second coordinator node that starts one (e.g. the first one restarted after a
        // standby took its run over) is told so instead of waiting for an answer that never comes.
        Receive<C.StartTraining>(m => m.Observer.Tell(new C.TrainingFinished(Round, false,
            $"a training is already running (run {(RunId.Length > 0 ? RunId : "without a run id")}, round {Round}); " +
            "start a second coordinator node with --standby to take it over when the running one is lost")));
        // Requests go to the schedule, which takes them between rounds.
        Receive<C.StopTraining>(_ =>
        {
            if (_rollingBack is { } rollBack)
            {
                // A roll-back may wait minutes for a generator node that is not coming back: a stop ends the run now, at
                // its last checkpoint (already written; the entities hold no state consistent enough for a new one).
                Context.Stop(rollBack);
                _rollingBack = null;
                var round = _lastCheckpoint?.Metadata.Round ?? 0;
                Fault(GeneratorId.Default.EntityId, "stopped", $"stopped during its roll-back: the run ends at its last checkpoint, round {round}");
                Finish(new RunStep.Finish(round, RunOutcome.Stopped, "stopped"));
                return;
            }
            WakeIfIdle(_schedule.Stop);
        });
        Receive<C.PauseTraining>(_ => _schedule.Pause());
        Receive<C.ResumeTraining>(_ => WakeIfIdle(_schedule.Resume));
        Receive<C.CheckpointNow>(_ => WakeIfIdle(_schedule.RequestCheckpoint));
        Receive<C.ChangeRun>(m =>
        {
            var requester = Sender;
            WakeIfIdle(() => _schedule.RequestChange(m.Change, requester));
        });
        Receive<RetryRound>(_ => WakeIfIdle(null));
        Receive<Akka.Persistence.ISnapshotResponse>(r => _positions.Confirmed(r, Self, _log));
        Receive<RoundActor.Result>(RoundResult);
        Receive<EvolveActor.Result>(r =>
        {
            if (r.Adopted) _learningRates[r.Report!.Worst] = r.Report.NewLearningRate;
            if (r.Report is not null) _observer.Tell(new C.Evolved(r.Report));
            _schedule.Evolved();
            Drive();
        });
        Receive<EvaluateActor.Result>(r =>
        {
            if (r.Report is not null) _observer.Tell(new C.Evaluated(r.Report));
            _schedule.Evaluated(r.Report);
            Drive();
        });
        Receive<CheckpointActor.Result>(Checkpointed);
        Receive<SetupActor.Result>(r => _setupThen?.Invoke(r));
        Receive<RollBackActor.Result>(RolledBack);
        Receive<ChangeActor.Result>(Changed);
        Receive<ClusterEvent.UnreachableMember>(m => Reachability(m.Member.Address, reachable: false));
        Receive<ClusterEvent.ReachableMember>(m => Reachability(m.Member.Address, reachable: true));
        // The coordinator's own answers: hand-overs (chunked like any snapshot) and member recoveries.
        Receive<IWirePart>(p => _inbox.Receive(p, Self, Sender, Answer));
        ReceiveAny(Answer);
    }

    private void Answer(object message)
    {
        if (message is E.HandedOff handed) _recovery.HandedOff(handed);
        else if (message is IEntityReply reply) _recovery.Handle(reply);
    }

    /// <summary>
    /// Executes the schedule's steps: notices at once, work steps by a child whose result drives on. While a round sent
    /// ahead is in flight, any work step but that round waits until it is resolved (<see cref="WhenAheadResolved"/>).
    /// </summary>
    private void Drive()
    {
        while (true)
        {
            var step = _schedule.Next();
            if (_ahead is { } ahead && step is not (RunStep.PublishRound or RunStep.PublishHealth or RunStep.PublishFault)
                && (step is not RunStep.PlayRound play || play.Round != ahead))
            {
                WhenAheadResolved(() =>
                {
                    if (Execute(step)) Drive();
                });
                return;
            }
            if (!Execute(step)) return;
        }
    }

    /// <summary>Carries out one step of the schedule; true when the next one follows at once (a notice).</summary>
    private bool Execute(RunStep step)
    {
        switch (step)
        {
            case RunStep.PlayRound play:
                RoundTrace.Mark("c.next", play.Round);
                if (play.Round == _ahead)
                {
                    Promote();
                    return false;
                }
                _recovery.Probe();
                if (Participants.Length >= Settings.Quorum)
                {
                    Lane(play.Round).Tell(new RoundActor.Play(Step, play.Round, Participants));
                    PlayAhead(play.Round);
                    return false;
                }
                // Below the quorum: no round until enough members are back; look again shortly (a stop still works).
                _schedule.RoundNotPlayed();
                _idle = true;
                Timers.StartSingleTimer(nameof(RetryRound), new RetryRound(), MemberRecovery.ProbeInterval);
                return false;
            case RunStep.Evolve:
                Run(EvolveActor.Props(Step, Participants, new Dictionary<int, double>(_learningRates)));
                return false;
            case RunStep.Evaluate:
                Run(EvaluateActor.Props(Step, Participants, _metrics!));
                return false;
            case RunStep.TakeCheckpoint:
                IReadOnlyList<string> all = EntityIds.Of(_members), asked = EntityIds.Of(Participants);
                // A member left out keeps its freshest known state (handed over, or the last checkpoint's) under its own round.
                _keeping = [];
                foreach (var entity in all.Except(asked))
                    if (_recovery.Kept(entity) is { } keep) _keeping[entity] = keep;
                Run(CheckpointActor.Props(Step, all, asked, [.. _keeping.Values.Select(k => k.Snapshot)]));
                return false;
            case RunStep.ApplyChange change:
                _changeRequester = change.Requester as IActorRef ?? ActorRefs.Nobody;
                Run(ChangeActor.Props(Step, change.Change, _members));
                return false;
            case RunStep.RollBack back:
                _rollingBack = Context.ActorOf(RollBackActor.Props(Step, back.Reason, _lastCheckpoint, EntityIds.Of(Participants), _positions.RoundOf));
                return false;
            case RunStep.PublishRound published:
                _observer.Tell(new C.RoundCompleted(published.Report));
                return true;
            case RunStep.PublishHealth health:
                _observer.Tell(new C.HealthDiagnosed(health.Report));
                return true;
            case RunStep.PublishFault fault:
                _observer.Tell(new C.Faulted(fault.Report));
                return true;
            case RunStep.Wait:
                _idle = true;
                return false;
            case RunStep.Finish finish:
                Finish(finish);
                return false;
            default:
                throw new InvalidOperationException($"unknown step {step}");
        }
    }

    /// <summary>A request (or a retry) while idle drives the schedule again; while a step runs, the schedule takes it after the step.</summary>
    private void WakeIfIdle(Action? request)
    {
        request?.Invoke();
        if (!_idle) return;
        _idle = false;
        Drive();
    }

    /// <summary>The running step (or the start) failed beyond recovery: the run ends.</summary>
    private void Fail(string reason)
    {
        _schedule.Failed(reason);
        Drive();
    }

    private void Finish(RunStep.Finish finish, bool nothingTrained = false)
    {
        var ended = $"the training {(finish.Outcome == RunOutcome.Completed ? "completed" : "stopped")} at round {finish.Round}";
        foreach (var (_, requester) in _schedule.TakeUnservedChanges()) (requester as IActorRef)?.Tell(new C.ChangeRefused(ended));
        _observer.Tell(new C.TrainingFinished(finish.Round, finish.Outcome == RunOutcome.Completed, finish.Reason, nothingTrained));
        Become(() =>
        {
            Receive<C.ChangeRun>(_ => Sender.Tell(new C.ChangeRefused(ended)));
            // One training per coordinator: a later start is told so, not left waiting for an answer that never comes.
            Receive<C.StartTraining>(m => m.Observer.Tell(new C.TrainingFinished(finish.Round, false,
                $"{ended} and this coordinator trains one run; start another on a new cluster (or continue this one with --resume from its last checkpoint)")));
            // The last position's confirmation still prunes the store.
            Receive<Akka.Persistence.ISnapshotResponse>(r => _positions.Confirmed(r, Self, _log));
            ReceiveAny(_ => { });
        });
    }

    /// <summary>Publishes a <see cref="FaultReport"/> at the current round to the run's observer.</summary>
    /// <param name="entity">The entity concerned (<c>g-0</c>, <c>d-i</c>, or <c>coordinator</c> for the run itself).</param>
    /// <param name="kind">What happened, one word: <c>suspended</c>, <c>recovered</c>, <c>unreachable</c>, <c>restored</c>, ...</param>
    /// <param name="detail">What happened and what the run does about it, in a sentence for the operator.</param>
    public void Fault(string entity, string kind, string detail) => _observer.Tell(new C.Faulted(new FaultReport(Round, entity, kind, detail)));

    private sealed record RetryRound;

    /// <summary>Unsubscribes from the cluster's reachability events and disposes the evaluation's metrics if they were made.</summary>
    protected override void PostStop()
    {
        if (((ExtendedActorSystem)Context.System).Provider is Akka.Cluster.ClusterActorRefProvider) Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
        if (_metrics is { IsValueCreated: true }) _metrics.Value.Dispose();
        base.PostStop();
    }
}
