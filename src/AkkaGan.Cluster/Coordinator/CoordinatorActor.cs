using Akka.Cluster.Hosting;
using Akka.Hosting;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Cluster.Persistence;
using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Cluster.Wire;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Metrics;
using AkkaGan.Core.Population;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// Schedules the rounds of DESIGN.md section 1 and never touches a tensor: it asks the generator to send fakes to
/// the discriminators (n-critic times, gathering their reports), asks for the generator step, then evolves,
/// evaluates and checkpoints on their intervals, in the same order as <see cref="ReferenceTrainer"/> so both engines
/// reach identical parameters. Every gather has a timeout; a round carries on with the members that answered.
/// </summary>
public sealed partial class CoordinatorActor : ReceiveActor, IWithTimers
{
    private readonly IActorRef _generator;
    private readonly IActorRef _discriminators;
    private readonly TimeSpan _stepTimeout;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LargeMessages _wire = new(Context.System);
    private readonly ChunkAssembler _chunks;
    private readonly Func<TrainingSettings, EvaluationMetrics> _createMetrics;
    // How the run proceeds (Core's RunSchedule, shared with the reference engine); this actor executes its steps.
    private RunSchedule _schedule = new(new TrainingSettings());
    // Made at the first evaluation, on the metrics task (for images it loads the classifier and the real reference set).
    private EvaluationMetrics? _metrics;
    private long _evaluationStarted;
    private IActorRef _observer = ActorRefs.Nobody;
    private int[] _members = [];
    private Dictionary<int, double> _learningRates = [];
    // True while nothing runs between rounds (paused, or below the quorum): the next request or retry drives the schedule.
    private bool _idle;
    private Gather? _gather;
    // Fault tolerance: members left out of rounds, those being restored (and since when), the last full checkpoint.
    private readonly HashSet<int> _suspended = [];
    private readonly Dictionary<int, Recovery> _recovering = [];
    private Checkpoint? _lastCheckpoint;
    // States entities handed over as their shard moved (a node leaving gracefully): fresher than the last checkpoint.
    private readonly Dictionary<string, (long Round, EntitySnapshot Snapshot)> _handedOff = [];
    private DateTime _nextProbe = DateTime.MinValue;

    /// <summary>How often suspended members are asked to recover, and how long the coordinator waits below the quorum between checks.</summary>
    internal static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(2);

    /// <summary>Configuring and restoring the entities at start (first touches of remote nodes, data loading) may take longer than a step.</summary>
    private TimeSpan SetupTimeout => _stepTimeout > TimeSpan.FromMinutes(1) ? _stepTimeout : TimeSpan.FromMinutes(1);

    private TrainingSettings Settings => _schedule.Settings;

    private long Round => _schedule.Round;

    /// <summary>The members taking part in rounds: the population without the suspended ones.</summary>
    private int[] Participants => [.. _members.Where(m => !_suspended.Contains(m))];

    /// <param name="metrics">The evaluation's metrics for a run's settings (default: loads the real data the settings name).</param>
    /// <param name="store">Whether this node has a state store (<see cref="Persistence.StateStoreHosting"/>): the position is saved to it.</param>
    public CoordinatorActor(IActorRef generator, IActorRef discriminators, TimeSpan stepTimeout, Func<TrainingSettings, EvaluationMetrics>? metrics = null,
        bool store = false)
    {
        _positions = new RunPositions(EntityStore.Of(Context, store));
        _createMetrics = metrics ?? (s => EvaluationMetrics.Create(s, RunData.Create(s)));
        _generator = generator;
        _discriminators = discriminators;
        _stepTimeout = stepTimeout;
        _chunks = new ChunkAssembler(_wire.Serializer);
        Receive<C.StartTraining>(Start);
        ReceiveAny(_ => { });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef generator, IActorRef discriminators, TimeSpan stepTimeout, Func<TrainingSettings, EvaluationMetrics>? metrics = null,
        bool store = false)
        => Akka.Actor.Props.Create(() => new CoordinatorActor(generator, discriminators, stepTimeout, metrics, store));

    private void Start(C.StartTraining m)
    {
        _positions.RunId = m.RunId;
        _observer = m.Observer;
        if (_positions.Enabled && m.Resume is null) ReadPosition(m);
        else Begin(m, null);
    }

    /// <param name="stored">Entities' rounds in the state store when the start continues from the store's position.</param>
    private void Begin(C.StartTraining m, IReadOnlyDictionary<string, long>? stored)
    {
        var settings = SettingsJson.Deserialize(m.SettingsJson).Validate();
        _schedule = new RunSchedule(settings, m.Resume?.Metadata.Round ?? 0);
        _observer = m.Observer;
        _members = settings.ActiveMembers;
        _learningRates = _members.ToDictionary(i => i, i => settings.ForMember(i).LrD);
        _lastCheckpoint = m.Resume;
        Become(Running);
        if (stored is not null)
        {
            _positions.Continue(stored);
            Fault(StateStore.CoordinatorEntity, "resumed", $"run {_positions.RunId} continues from the state store's position of round {Round}");
        }

        _generator.Tell(new G.Configure(GeneratorId.Default, m.SettingsJson, Self, _positions.RunId));
        foreach (var i in _members)
        {
            var member = settings.ForMember(i);
            _discriminators.Tell(new D.Configure(new DiscriminatorId(i), m.SettingsJson, member.Loss, member.LrD, Self, _positions.RunId));
        }
        Expect("configure", 1 + _members.Length, answers =>
        {
            _observer.Tell(new C.Placed(answers
                .Select(a => a switch { G.Configured g => (g.Generator.EntityId, g.Node), D.Configured d => (d.Discriminator.EntityId, d.Node), _ => default })
                .Where(p => p.EntityId is not null)
                .ToDictionary(p => p.EntityId, p => p.Node)));
            if (m.Resume is null)
            {
                Drive();
                return;
            }
            _wire.Tell(_generator, new G.RestoreSnapshot(GeneratorId.Default, m.Resume.Entity(GeneratorCore.EntityId), Self), Self);
            foreach (var i in _members)
            {
                var snapshot = m.Resume.Entity(DiscriminatorCore.EntityIdOf(i));
                _learningRates[i] = snapshot.LearningRate;
                _wire.Tell(_discriminators, new D.RestoreSnapshot(new DiscriminatorId(i), snapshot, Self), Self);
            }
            Expect("restore", 1 + _members.Length, _ => Drive(), timeout: SetupTimeout,
                accept: a => a is D.Restored or G.Restored or D.CommandRejected or G.CommandRejected);
        }, all: true, timeout: SetupTimeout, accept: a => a is D.Configured or G.Configured or D.CommandRejected or G.CommandRejected);
    }

    private void Running()
    {
        // One training per coordinator: a second coordinator node that starts one (e.g. the first one restarted after a
        // standby took its run over) is told so instead of waiting for an answer that never comes.
        Receive<C.StartTraining>(m => m.Observer.Tell(new C.TrainingFinished(Round, false,
            $"a training is already running (run {(_positions.RunId.Length > 0 ? _positions.RunId : "without a run id")}, round {Round}); " +
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
        // Reassembled answers go to the gather directly (OnReceive would run the constructor's behavior, not this one).
        Receive<Chunk>(c => ChunkHandling.Receive(_chunks, c, _log, Answer));
        Receive<RetryRound>(_ => WakeIfIdle(null));
        Receive<Akka.Persistence.ISnapshotResponse>(r => _positions.Confirmed(r, Self, _log));
        Receive<MetricsComputed>(OnMetrics);
        Receive<GatherTimedOut>(t =>
        {
            if (_gather is not { } g || g.Id != t.Id) return;
            _log.Warning("{0} of round {1}: {2} of {3} answers in time, carrying on", g.Name, Round + 1, g.Answers.Count, g.Expected);
            Complete(g);
        });
        ReceiveAny(Answer);
    }

    /// <summary>An entity's answer: counted by the open gather, if it is one of the answers gathers wait for.</summary>
    private void Answer(object message)
    {
        switch (message)
        {
            case D.HandedOff d:
                _log.Info("{0} handed over its state of round {1} from {2}", d.Discriminator, d.Round, d.Node);
                _handedOff[d.Discriminator.EntityId] = (d.Round, d.Snapshot);
                return;
            case G.HandedOff generator:
                _log.Info("{0} handed over its state of round {1} from {2}", generator.Generator, generator.Round, generator.Node);
                _handedOff[generator.Generator.EntityId] = (generator.Round, generator.Snapshot);
                return;
        }
        // Answers of a member being restored belong to its recovery, never to a gather.
        if (message is D.Configured configured && _recovering.ContainsKey(configured.Discriminator.Member))
        {
            Configured(configured);
            return;
        }
        if (message is D.Restored restored && _recovering.ContainsKey(restored.Discriminator.Member))
        {
            Recovered(restored);
            return;
        }
        if (message is D.CommandRejected notStored && _recovering.ContainsKey(notStored.Discriminator.Member) && notStored.Command == nameof(D.RecoverFromStore))
        {
            NotInStore(notStored);
            return;
        }
        if (message is D.CommandRejected refused && _recovering.ContainsKey(refused.Discriminator.Member)
            && refused.Command is nameof(D.Configure) or nameof(D.RestoreSnapshot))
        {
            _log.Warning("recovery of {0} failed: {1}", refused.Discriminator, refused.Reason);
            _recovering.Remove(refused.Discriminator.Member);
            return;
        }
        // A configure/restore answer counts only for a gather that waits for one (a late answer to a repeated command
        // must not complete, say, a checkpoint's gather).
        var setup = message is D.Configured or G.Configured or D.Restored or G.Restored;
        if (_gather is { } g && (g.Accept is null ? !setup || g.Setup : g.Accept(message)) && message is (D.Configured or G.Configured or D.TrainStepDone or G.GeneratorStepped or D.FitnessMeasured
                or D.WeightsAdopted or G.SamplesProduced or D.SnapshotTaken or G.SnapshotTaken or D.SettingsApplied or G.SettingsApplied or D.Restored or G.Restored
                or D.CommandRejected or G.CommandRejected))
        {
            if (message is D.CommandRejected or G.CommandRejected) _log.Warning("{0}: {1}", g.Name, message);
            g.Answers.Add(message);
            // A generator that refuses (e.g. no discriminator answered its step) ends the gather at once.
            if (g.Answers.Count >= g.Expected || message is G.CommandRejected) Complete(g);
        }
    }

    /// <summary>Waits for <paramref name="expected"/> answers (or the step timeout), then continues.</summary>
    /// <param name="accept">Which answers count (e.g. only this round's, only the participants'); null: every answer type above.</param>
    /// <param name="setup">Whether configure/restore answers count (configuring and restoring entities).</param>
    private void Expect(string name, int expected, Action<IReadOnlyList<object>> then, bool all = false, TimeSpan? timeout = null,
        Func<object, bool>? accept = null, bool setup = false)
    {
        var id = Guid.NewGuid();
        _gather = new Gather(id, name, expected, [], then, all, accept, setup);
        Timers.StartSingleTimer(nameof(GatherTimedOut), new GatherTimedOut(id), timeout ?? _stepTimeout);
    }

    private void Complete(Gather g)
    {
        _gather = null;
        Timers.Cancel(nameof(GatherTimedOut));
        var rejected = g.Answers.Where(a => a is D.CommandRejected or G.CommandRejected).ToArray();
        if (g.All && (g.Answers.Count < g.Expected || rejected.Length > 0))
        {
            Fail($"{g.Name} failed: {g.Answers.Count - rejected.Length} of {g.Expected} entities answered" +
                          (rejected.Length > 0 ? $" ({string.Join("; ", rejected)})" : ""));
            return;
        }
        g.Then([.. g.Answers.Except(rejected)]);
    }

    /// <summary>Executes the schedule's steps: notices at once, work steps by messages whose answers complete them and drive on.</summary>
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

    /// <summary>
    /// One round in one command to the generator (<see cref="G.RunRound"/>): it sends every critic batch and then the
    /// generator step's x_fake, each discriminator answers its critic reports here and its feedback to the generator,
    /// and the round ends with the generator's <see cref="G.GeneratorStepped"/> and all critic reports (or the timeout).
    /// Two network hops per round instead of four; the order of every computation is the reference engine's.
    /// </summary>
    private void PlayRound(long round)
    {
        ProbeSuspended();
        if (Participants.Length < Settings.Quorum)
        {
            // Below the quorum: no round until enough members are back; look again shortly (a stop still works).
            _schedule.RoundNotPlayed();
            _idle = true;
            Timers.StartSingleTimer(nameof(RetryRound), new RetryRound(), ProbeInterval);
            return;
        }
        var participants = Participants;
        var selected = Aggregation.SelectMembers(Settings, participants, round);
        _generator.Tell(new G.RunRound(GeneratorId.Default, round, Settings.NCritic, participants, selected, _stepTimeout, Self));
        // Only this round's answers from the members taking part count (a late answer of an earlier round does not).
        bool ThisRound(object answer) => answer switch
        {
            D.TrainStepDone d => d.Result.Round == round && participants.Contains(d.Result.Member),
            D.CommandRejected r => r.Round == round && participants.Contains(r.Discriminator.Member),
            G.GeneratorStepped stepped => stepped.Result.Round == round,
            G.CommandRejected r => r.Round == round,
            _ => false,
        };
        // The generator times out silent discriminators itself after the step timeout; wait for its answer beyond that.
        Expect($"round {round}", Settings.NCritic * participants.Length + 1, accept: ThisRound, timeout: 2 * _stepTimeout + TimeSpan.FromSeconds(1), then: answers =>
        {
            if (answers.OfType<G.GeneratorStepped>().FirstOrDefault() is not { } stepped)
            {
                // Critic reports of this round mean the discriminators have stepped on it: the generator's handed-over state
                // of the last completed round no longer matches theirs, and only a roll-back makes them agree again.
                RecoverGenerator($"the generator did not complete round {round}", criticStepsTaken: answers.OfType<D.TrainStepDone>().Any());
                return;
            }
            // Each member's report of its last critic step, in member order.
            var last = new DiscriminatorStepResult[participants.Length];
            foreach (var done in answers.OfType<D.TrainStepDone>().Select(d => d.Result).OrderBy(d => d.CriticStep))
                last[Array.IndexOf(participants, done.Member)] = done;
            // A member that missed a critic step or the feedback (its node died, its entity lost its state) is left out
            // from the next round on, and restored from the last checkpoint in the background.
            var complete = answers.OfType<D.TrainStepDone>().GroupBy(d => d.Result.Member)
                .Where(g => g.Count() == Settings.NCritic).Select(g => g.Key).ToHashSet();
            foreach (var missing in participants.Where(m => !complete.Contains(m) || (selected.Contains(m) && !stepped.Answered.Contains(m))))
                Suspend(missing, round);
            var step = stepped.Result;
            _schedule.RoundPlayed(new RoundReport(round, step.Loss, step.GradientNorm, [.. last.Where(d => d is not null)], stepped.Answered)
            {
                FeedbackNorm = step.FeedbackNorm, GeneratorDrift = step.Drift,
            });
            Drive();
        });
    }

    private void Fitness(Action<Dictionary<int, double>> then)
    {
        var participants = Participants;
        _generator.Tell(new G.ProduceFitnessBatch(GeneratorId.Default, Round, participants, Self));
        Expect("fitness", participants.Length, answers => then(answers.OfType<D.FitnessMeasured>().ToDictionary(f => f.Discriminator.Member, f => f.Fitness)));
    }

    private void Evolve() => Fitness(fitness =>
    {
        void Next()
        {
            _schedule.Evolved();
            Drive();
        }
        if (fitness.Count == 0)
        {
            Next();
            return;
        }
        var (best, worst) = Evolution.Rank(fitness);
        var lr = Evolution.PerturbLearningRate(_learningRates[best], Settings.LrPerturbation, Evolution.Uniform(Settings.Seed, Round));
        var report = new EvolutionReport(Round, best, worst, fitness[best], fitness[worst], lr);
        if (best == worst)
        {
            _observer.Tell(new C.Evolved(report));
            Next();
            return;
        }
        _discriminators.Tell(new D.TransferWeights(new DiscriminatorId(best), new DiscriminatorId(worst), lr, Round, Self));
        Expect("evolution", 1, answers =>
        {
            if (answers.OfType<D.WeightsAdopted>().Any()) _learningRates[worst] = lr;
            _observer.Tell(new C.Evolved(report));
            Next();
        });
    });

    private void Evaluate()
    {
        _evaluationStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        _generator.Tell(new G.GetSamples(GeneratorId.Default, Settings.EvalSamples, Self));
        Expect("evaluation samples", 1, answers =>
        {
            if ((answers.Count > 0 ? answers[0] : null) is not G.SamplesProduced produced)
            {
                _schedule.Evaluated(null);
                Drive();
                return;
            }
            // The metrics (for images a classifier pass over thousands of samples) run off the actor's thread, so the
            // coordinator keeps taking control requests meanwhile; the round's schedule waits for them.
            // One evaluation at a time, so only this task ever touches _metrics.
            var settings = Settings;
            Task.Run(() =>
            {
                using var scope = TorchSharp.torch.NewDisposeScope();
                var tensor = TensorCodec.ToTensor(produced.Samples, TorchSharp.torch.ScalarType.Float32);
                var flat = tensor.contiguous().data<float>().ToArray();
                _metrics ??= _createMetrics(settings);
                return new MetricsComputed(flat, [.. produced.Samples.Shape], _metrics.Compute(tensor), null);
            }).PipeTo(Self, failure: e => new MetricsComputed([], [.. produced.Samples.Shape], null, e));
        });
    }

    private void OnMetrics(MetricsComputed m)
    {
        if (m.Error is not null) _log.Error(m.Error, "evaluation metrics of round {0} failed; the evaluation is reported without them", Round);
        var count = (int)m.Shape[0];
        var flat = m.Error is null ? m.Samples : new float[count * m.Shape.Skip(1).Aggregate(1L, (a, b) => a * b)];
        Fitness(fitness =>
        {
            var report = new EvaluationReport(Round, m.Metrics?.Mixture, flat, [.. m.Shape.Skip(1)], count, fitness)
            {
                Image = m.Metrics?.Image,
                Diversity = m.Metrics?.Diversity,
                Seconds = System.Diagnostics.Stopwatch.GetElapsedTime(_evaluationStarted).TotalSeconds,
            };
            _observer.Tell(new C.Evaluated(report));
            _schedule.Evaluated(report);
            Drive();
        });
    }

    private void Checkpoint()
    {
        var participants = Participants;
        _generator.Tell(new G.GetSnapshot(GeneratorId.Default, Round, Self));
        foreach (var i in participants) _discriminators.Tell(new D.GetSnapshot(new DiscriminatorId(i), Round, Self));
        Expect("checkpoint", 1 + participants.Length, answers =>
        {
            var taken = answers.OfType<D.SnapshotTaken>().ToDictionary(s => s.Discriminator.Member, s => s.Snapshot);
            // A suspended member keeps its state of the last checkpoint (what it will be restored to).
            foreach (var i in _members.Where(_suspended.Contains))
                if (_lastCheckpoint?.Entities.FirstOrDefault(e => e.EntityId == DiscriminatorCore.EntityIdOf(i)) is { } kept) taken[i] = kept;
            if (answers.OfType<G.SnapshotTaken>().FirstOrDefault() is not { } generator || _members.Any(i => !taken.ContainsKey(i)))
            {
                // A checkpoint must hold every entity; skip this one rather than write a partial state.
                _log.Warning("checkpoint of round {0} skipped: {1} of {2} entities sent their snapshot", Round, answers.Count, 1 + _members.Length);
                _schedule.CheckpointTaken(false);
                Drive();
                return;
            }
            var metadata = new CheckpointMetadata(Round, Settings.Seed, SettingsJson.Serialize(Settings), "cluster", DateTimeOffset.UtcNow);
            _lastCheckpoint = new Checkpoint(metadata, [generator.Snapshot, .. _members.Select(i => taken[i])]);
            _positions.Save(Round, Settings, answers.OfType<D.SnapshotTaken>().Select(s => s.Discriminator.EntityId).Append(GeneratorCore.EntityId), Self);
            _observer.Tell(new C.CheckpointTaken(_lastCheckpoint));
            _schedule.CheckpointTaken(true);
            Drive();
        });
    }

    private void Finish(RunStep.Finish finish)
    {
        var completed = finish.Outcome == RunOutcome.Completed;
        foreach (var (_, requester) in _schedule.TakeUnservedChanges())
            (requester as IActorRef)?.Tell(new C.ChangeRefused($"the training {(completed ? "completed" : "stopped")} at round {finish.Round}"));
        _observer.Tell(new C.TrainingFinished(finish.Round, completed, finish.Reason));
        var round = finish.Round;
        Become(() =>
        {
            Receive<C.ChangeRun>(_ => Sender.Tell(new C.ChangeRefused($"the training {(completed ? "completed" : "stopped")} at round {round}")));
            // The last position's confirmation still prunes the store.
            Receive<Akka.Persistence.ISnapshotResponse>(r => _positions.Confirmed(r, Self, _log));
            ReceiveAny(_ => { });
        });
    }

    private sealed record RetryRound;

    private sealed record Gather(Guid Id, string Name, int Expected, List<object> Answers, Action<IReadOnlyList<object>> Then, bool All,
        Func<object, bool>? Accept, bool Setup);

    private sealed record GatherTimedOut(Guid Id);

    /// <summary>The evaluation's metrics, computed off the actor's thread (PipeTo result).</summary>
    private sealed record MetricsComputed(float[] Samples, long[] Shape, EvaluationMetrics.Result? Metrics, Exception? Error);

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
