using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Event;
using Akka.Hosting;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Cluster.Persistence;
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
/// cluster and never touches a tensor: each step becomes requests to the entities, whose answers (matched by request
/// id, gathered with a timeout) complete the step and drive the next. Phases: starting (configure, restore), running,
/// finished. Faults (suspended members, a lost generator, roll-backs) are in <c>CoordinatorActor.Faults.cs</c>, the
/// steps in <c>CoordinatorActor.Steps.cs</c>.
/// </summary>
public sealed partial class CoordinatorActor : ReceiveActor, IWithTimers, IWithUnboundedStash, IRecoveryHost
{
    private readonly IActorRef _generator;
    private readonly IActorRef _discriminators;
    private readonly TimeSpan _stepTimeout;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LargeMessages _wire = new(Context.System);
    private readonly ChunkAssembler _chunks;
    private readonly RunPositions _positions;
    private readonly MemberRecovery _recovery;
    private RunSchedule _schedule = new(new TrainingSettings());
    private IActorRef _observer = ActorRefs.Nobody;
    private int[] _members = [];
    private Dictionary<int, double> _learningRates = [];
    private long _lastRequest;
    // True while nothing runs between rounds (paused, or below the quorum): the next request or retry drives the schedule.
    private bool _idle;
    private Gather? _gather;
    // The last full checkpoint (the roll-back target's state), and states entities handed over as their shard moved.
    private Checkpoint? _lastCheckpoint;
    private readonly Dictionary<string, (long Round, EntitySnapshot Snapshot)> _handedOff = [];

    /// <param name="metrics">The evaluation's metrics for a run's settings (default: loads the real data the settings name).</param>
    /// <param name="store">Whether this node has a state store (<see cref="StateStoreHosting"/>): the position is saved to it.</param>
    public CoordinatorActor(IActorRef generator, IActorRef discriminators, TimeSpan stepTimeout, Func<TrainingSettings, EvaluationMetrics>? metrics = null,
        bool store = false)
    {
        _positions = new RunPositions(EntityStore.Of(Context, store));
        _createMetrics = metrics ?? (s => EvaluationMetrics.Create(s, RunData.Create(s)));
        _generator = generator;
        _discriminators = discriminators;
        _stepTimeout = stepTimeout;
        _chunks = new ChunkAssembler(_wire.Serializer);
        _recovery = new MemberRecovery(this, _log, stepTimeout, SetupTimeout);
        Receive<C.StartTraining>(Start);
        ReceiveAny(_ => { });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public IStash Stash { get; set; } = null!;

    public static Props Props(IActorRef generator, IActorRef discriminators, TimeSpan stepTimeout, Func<TrainingSettings, EvaluationMetrics>? metrics = null,
        bool store = false)
        => Akka.Actor.Props.Create(() => new CoordinatorActor(generator, discriminators, stepTimeout, metrics, store));

    public TrainingSettings Settings => _schedule.Settings;

    public string RunId => _positions.RunId;

    private long Round => _schedule.Round;

    /// <summary>Configuring and restoring the entities (first touches of remote nodes, data loading) may take longer than a step.</summary>
    private TimeSpan SetupTimeout => _stepTimeout > TimeSpan.FromMinutes(1) ? _stepTimeout : TimeSpan.FromMinutes(1);

    /// <summary>The members taking part in rounds: the population without the suspended ones.</summary>
    private int[] Participants => [.. _members.Where(m => !_recovery.Suspended.Contains(m))];

    public long NextRequest() => ++_lastRequest;

    IActorRef IRecoveryHost.Self => Self;

    /// <summary>Sends a request to its entity's region (whole or in chunks).</summary>
    public void Send(IEntityRequest request) => _wire.Tell(EntityIds.IsGenerator(request.EntityId) ? _generator : _discriminators, request, Self);

    private static string[] Entities(IEnumerable<int> members) => [GeneratorId.Default.EntityId, .. members.Select(m => new DiscriminatorId(m).EntityId)];

    private void Start(C.StartTraining m)
    {
        _positions.RunId = m.RunId;
        _observer = m.Observer;
        if (_positions.Enabled && m.Resume is null) ReadPosition(m);
        else Begin(m, null);
    }

    /// <summary>Configures every entity (and restores the checkpoint it resumes from), then drives the schedule.</summary>
    /// <param name="stored">Entities' rounds in the state store when the start continues from the store's position.</param>
    private void Begin(C.StartTraining m, IReadOnlyDictionary<string, long>? stored)
    {
        var settings = SettingsJson.Deserialize(m.SettingsJson).Validate();
        _schedule = new RunSchedule(settings, m.Resume?.Metadata.Round ?? 0);
        _observer = m.Observer;
        _members = settings.ActiveMembers;
        _learningRates = _members.ToDictionary(i => i, i => m.Resume?.Entity(new DiscriminatorId(i).EntityId).LearningRate ?? settings.ForMember(i).LrD);
        _lastCheckpoint = m.Resume;
        Become(Running);
        if (stored is not null)
        {
            _positions.Continue(stored);
            Fault(StateStore.CoordinatorEntity, "resumed", $"run {RunId} continues from the state store's position of round {Round}");
        }
        var entities = Entities(_members);
        var configure = NextRequest();
        foreach (var entity in entities) Send(new E.Configure(entity, configure, m.SettingsJson, Self, RunId));
        Expect("configure", configure, entities.Length, all: true, timeout: SetupTimeout, then: answers =>
        {
            _observer.Tell(new C.Placed(answers.OfType<E.Configured>().ToDictionary(a => a.EntityId, a => a.Node)));
            if (m.Resume is not { } resume)
            {
                Drive();
                return;
            }
            var restore = NextRequest();
            foreach (var entity in entities) Send(new E.RestoreSnapshot(entity, restore, resume.Entity(entity), Self));
            Expect("restore", restore, entities.Length, all: true, timeout: SetupTimeout, then: _ => Drive());
        });
    }

    private void Running()
    {
        // One training per coordinator: a second coordinator node that starts one (e.g. the first one restarted after a
        // standby took its run over) is told so instead of waiting for an answer that never comes.
        Receive<C.StartTraining>(m => m.Observer.Tell(new C.TrainingFinished(Round, false,
            $"a training is already running (run {(RunId.Length > 0 ? RunId : "without a run id")}, round {Round}); " +
            "start a second coordinator node with --standby to take it over when the running one is lost")));
        // Requests go to the schedule, which takes them between rounds.
        Receive<C.StopTraining>(_ => WakeIfIdle(_schedule.Stop));
        Receive<C.PauseTraining>(_ => _schedule.Pause());
        Receive<C.ResumeTraining>(_ => WakeIfIdle(_schedule.Resume));
        Receive<C.CheckpointNow>(_ => WakeIfIdle(_schedule.RequestCheckpoint));
        Receive<C.ChangeRun>(m =>
        {
            var requester = Sender;
            WakeIfIdle(() => _schedule.RequestChange(m.Change, requester));
        });
        // Reassembled answers are answers too (OnReceive would run the constructor's behavior, not this one).
        Receive<Chunk>(c => ChunkHandling.Receive(_chunks, c, _log, Answer));
        Receive<RetryRound>(_ => WakeIfIdle(null));
        Receive<Akka.Persistence.ISnapshotResponse>(r => _positions.Confirmed(r, Self, _log));
        Receive<MetricsComputed>(OnMetrics);
        Receive<GatherTimedOut>(t =>
        {
            if (_gather is not { } g || g.RequestId != t.RequestId) return;
            _log.Warning("{0} of round {1}: {2} of {3} answers in time, carrying on", g.Name, Round + 1, g.Answers.Count, g.Expected);
            Complete(g);
        });
        ReceiveAny(Answer);
    }

    /// <summary>An entity's answer: a hand-over, a recovery's, or the open gather's (matched by request id); others are late.</summary>
    private void Answer(object message)
    {
        if (message is E.HandedOff handed)
        {
            _log.Info("{0} handed over its state of round {1} from {2}", handed.EntityId, handed.Round, handed.Node);
            _handedOff[handed.EntityId] = (handed.Round, handed.Snapshot);
            return;
        }
        if (message is not IEntityReply reply || _recovery.Handle(reply)) return;
        if (_gather is not { } g || g.RequestId != reply.RequestId) return;
        if (reply is E.Rejected) _log.Warning("{0}: {1}", g.Name, reply);
        g.Answers.Add(reply);
        // A generator that refuses (e.g. no discriminator answered its step) ends the gather at once.
        if (g.Answers.Count >= g.Expected || reply is E.Rejected rejected && EntityIds.IsGenerator(rejected.EntityId)) Complete(g);
    }

    /// <summary>Waits for <paramref name="expected"/> answers to request <paramref name="requestId"/> (or the step timeout), then continues.</summary>
    /// <param name="all">Every answer is needed: a missing or refused one fails the run.</param>
    private void Expect(string name, long requestId, int expected, Action<IReadOnlyList<IEntityReply>> then, bool all = false, TimeSpan? timeout = null)
    {
        _gather = new Gather(requestId, name, expected, [], then, all);
        Timers.StartSingleTimer(nameof(GatherTimedOut), new GatherTimedOut(requestId), timeout ?? _stepTimeout);
    }

    private void Complete(Gather g)
    {
        _gather = null;
        Timers.Cancel(nameof(GatherTimedOut));
        var rejected = g.Answers.OfType<E.Rejected>().ToArray();
        if (g.All && (g.Answers.Count < g.Expected || rejected.Length > 0))
        {
            Fail($"{g.Name} failed: {g.Answers.Count - rejected.Length} of {g.Expected} entities answered" +
                 (rejected.Length > 0 ? $" ({string.Join("; ", rejected.Select(r => $"{r.EntityId} refused {r.Command}: {r.Reason}"))})" : ""));
            return;
        }
        g.Then([.. g.Answers.Except(rejected)]);
    }

    /// <summary>Executes the schedule's steps: notices at once, work steps by requests whose answers complete them and drive on.</summary>
    private void Drive()
    {
        while (true)
        {
            switch (_schedule.Next())
            {
                case RunStep.PlayRound play:
                    PlayRound(play.Round);
                    return;
                case RunStep.Evolve:
                    Evolve();
                    return;
                case RunStep.PublishRound published:
                    _observer.Tell(new C.RoundCompleted(published.Report));
                    continue;
                case RunStep.Evaluate:
                    Evaluate();
                    return;
                case RunStep.PublishHealth health:
                    _observer.Tell(new C.HealthDiagnosed(health.Report));
                    continue;
                case RunStep.PublishFault fault:
                    _observer.Tell(new C.Faulted(fault.Report));
                    continue;
                case RunStep.TakeCheckpoint:
                    Checkpoint();
                    return;
                case RunStep.ApplyChange change:
                    ApplyChange(change.Change, change.Requester as IActorRef ?? ActorRefs.Nobody);
                    return;
                case RunStep.RollBack back:
                    RollBack(back.Reason);
                    return;
                case RunStep.Wait:
                    _idle = true;
                    return;
                case RunStep.Finish finish:
                    Finish(finish);
                    return;
            }
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

    private void Finish(RunStep.Finish finish)
    {
        var ended = $"the training {(finish.Outcome == RunOutcome.Completed ? "completed" : "stopped")} at round {finish.Round}";
        foreach (var (_, requester) in _schedule.TakeUnservedChanges()) (requester as IActorRef)?.Tell(new C.ChangeRefused(ended));
        _observer.Tell(new C.TrainingFinished(finish.Round, finish.Outcome == RunOutcome.Completed, finish.Reason));
        Become(() =>
        {
            Receive<C.ChangeRun>(_ => Sender.Tell(new C.ChangeRefused(ended)));
            // The last position's confirmation still prunes the store.
            Receive<Akka.Persistence.ISnapshotResponse>(r => _positions.Confirmed(r, Self, _log));
            ReceiveAny(_ => { });
        });
    }

    private void Fault(string entity, string kind, string detail) => _observer.Tell(new C.Faulted(new FaultReport(Round, entity, kind, detail)));

    private sealed record RetryRound;

    private sealed record Gather(long RequestId, string Name, int Expected, List<IEntityReply> Answers, Action<IReadOnlyList<IEntityReply>> Then, bool All);

    private sealed record GatherTimedOut(long RequestId);

    protected override void PostStop()
    {
        _metrics?.Dispose();
        base.PostStop();
    }
}

/// <summary>Hosting: the coordinator as a cluster singleton on the <c>coordinator</c> role, with its proxy registered.</summary>
public static class CoordinatorHosting
{
    /// <summary>Starts the singleton (needs both regions or proxies registered first).</summary>
    /// <param name="metrics">The evaluation's metrics for a run's settings (default: loads the real data the settings name).</param>
    /// <param name="store">Whether the node has a state store: the coordinator saves its position and has entities recover from their snapshots.</param>
    public static AkkaConfigurationBuilder AddCoordinator(this AkkaConfigurationBuilder builder, TimeSpan stepTimeout, Func<TrainingSettings, EvaluationMetrics>? metrics = null,
        bool store = false)
        => builder.WithSingleton<CoordinatorSingleton>("coordinator",
            (_, registry, _) => CoordinatorActor.Props(registry.Get<GeneratorRegion>(), registry.Get<DiscriminatorRegion>(), stepTimeout, metrics, store),
            new ClusterSingletonOptions { Role = Roles.Coordinator });
}
