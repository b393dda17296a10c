using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Population;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using E = AkkaGan.Cluster.Protocol.EntityProtocol;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>The schedule's work steps as requests to the entities; each answer gather completes its step and drives on.</summary>
public sealed partial class CoordinatorActor
{
    private readonly Func<TrainingSettings, EvaluationMetrics> _createMetrics;
    // Made at the first evaluation, on the metrics task (for images it loads the classifier and the real reference set).
    private EvaluationMetrics? _metrics;
    private long _evaluationStarted;

    /// <summary>
    /// One round in one request to the generator (<see cref="G.RunRound"/>): it sends every critic batch and then the
    /// generator step's x_fake, each discriminator answers its critic reports here and its feedback to the generator,
    /// and the round ends with the generator's <see cref="G.GeneratorStepped"/> and all critic reports (or the timeout).
    /// </summary>
    private void PlayRound(long round)
    {
        _recovery.Probe();
        var participants = Participants;
        if (participants.Length < Settings.Quorum)
        {
            // Below the quorum: no round until enough members are back; look again shortly (a stop still works).
            _schedule.RoundNotPlayed();
            _idle = true;
            Timers.StartSingleTimer(nameof(RetryRound), new RetryRound(), MemberRecovery.ProbeInterval);
            return;
        }
        var selected = Aggregation.SelectMembers(Settings, participants, round);
        var id = NextRequest();
        Send(new G.RunRound(GeneratorId.Default, id, round, Settings.NCritic, participants, selected, _stepTimeout, Self));
        // The generator times out silent discriminators itself after the step timeout; wait for its answer beyond that.
        Expect($"round {round}", id, Settings.NCritic * participants.Length + 1, timeout: 2 * _stepTimeout + TimeSpan.FromSeconds(1), then: answers =>
        {
            var critics = answers.OfType<D.TrainStepDone>().Select(d => d.Result).ToArray();
            if (answers.OfType<G.GeneratorStepped>().FirstOrDefault() is not { } stepped)
            {
                // Critic reports of this round mean the discriminators have stepped on it: the generator's handed-over state
                // of the last completed round no longer matches theirs, and only a roll-back makes them agree again.
                RecoverGenerator($"the generator did not complete round {round}", criticStepsTaken: critics.Length > 0);
                return;
            }
            // A member that missed a critic step or the feedback is left out from the next round on, and restored.
            var complete = critics.GroupBy(d => d.Member).Where(g => g.Count() == Settings.NCritic).Select(g => g.Key).ToHashSet();
            foreach (var missing in participants.Where(m => !complete.Contains(m) || (selected.Contains(m) && !stepped.Answered.Contains(m))))
                Suspend(missing, round);
            // Each member's report of its last critic step, in member order.
            var last = critics.GroupBy(d => d.Member).Select(g => g.MaxBy(d => d.CriticStep)!).OrderBy(d => Array.IndexOf(participants, d.Member)).ToArray();
            var step = stepped.Result;
            _schedule.RoundPlayed(new RoundReport(round, step.Loss, step.GradientNorm, last, stepped.Answered) { FeedbackNorm = step.FeedbackNorm, GeneratorDrift = step.Drift });
            Drive();
        });
    }

    private void Fitness(Action<Dictionary<int, double>> then)
    {
        var participants = Participants;
        var id = NextRequest();
        Send(new G.ProduceFitnessBatch(GeneratorId.Default, id, Round, participants, Self));
        Expect("fitness", id, participants.Length, answers => then(answers.OfType<D.FitnessMeasured>().ToDictionary(f => f.Discriminator.Member, f => f.Fitness)));
    }

    private void Evolve() => Fitness(fitness =>
    {
        void Evolved(EvolutionReport? report)
        {
            if (report is not null) _observer.Tell(new C.Evolved(report));
            _schedule.Evolved();
            Drive();
        }
        if (fitness.Count == 0)
        {
            Evolved(null);
            return;
        }
        var (best, worst) = Evolution.Rank(fitness);
        var lr = Evolution.PerturbLearningRate(_learningRates[best], Settings.LrPerturbation, Evolution.Uniform(Settings.Seed, Round));
        var report = new EvolutionReport(Round, best, worst, fitness[best], fitness[worst], lr);
        if (best == worst)
        {
            Evolved(report);
            return;
        }
        var id = NextRequest();
        Send(new D.TransferWeights(new DiscriminatorId(best), id, new DiscriminatorId(worst), lr, Round, Self));
        Expect("evolution", id, 1, answers =>
        {
            if (answers.OfType<D.WeightsAdopted>().Any()) _learningRates[worst] = lr;
            Evolved(report);
        });
    });

    private void Evaluate()
    {
        _evaluationStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        var id = NextRequest();
        Send(new G.GetSamples(GeneratorId.Default, id, Settings.EvalSamples, Self));
        Expect("evaluation samples", id, 1, answers =>
        {
            if (answers.OfType<G.SamplesProduced>().FirstOrDefault() is not { } produced)
            {
                _schedule.Evaluated(null);
                Drive();
                return;
            }
            // The metrics (for images a classifier pass over thousands of samples) run off the actor's thread, so the
            // coordinator keeps taking control requests meanwhile; the schedule waits for them. One evaluation at a
            // time, so only this task ever touches _metrics.
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

    /// <summary>Every entity's snapshot; a suspended member keeps its state of the last checkpoint; a checkpoint missing an entity is skipped.</summary>
    private void Checkpoint()
    {
        var entities = Entities(Participants);
        var id = NextRequest();
        foreach (var entity in entities) Send(new E.GetSnapshot(entity, id, Round, Self));
        Expect("checkpoint", id, entities.Length, answers =>
        {
            var taken = answers.OfType<E.SnapshotTaken>().ToDictionary(s => s.EntityId, s => s.Snapshot);
            foreach (var entity in Entities(_recovery.Suspended.Where(_members.Contains)))
                if (!taken.ContainsKey(entity) && _lastCheckpoint?.Entities.FirstOrDefault(e => e.EntityId == entity) is { } kept) taken[entity] = kept;
            var all = Entities(_members);
            if (all.Any(e => !taken.ContainsKey(e)))
            {
                _log.Warning("checkpoint of round {0} skipped: {1} of {2} entities sent their snapshot", Round, answers.Count, all.Length);
                _schedule.CheckpointTaken(false);
                Drive();
                return;
            }
            var metadata = new CheckpointMetadata(Round, Settings.Seed, SettingsJson.Serialize(Settings), "cluster", DateTimeOffset.UtcNow);
            _lastCheckpoint = new Checkpoint(metadata, [.. all.Select(e => taken[e])]);
            _positions.Save(Round, Settings, answers.OfType<E.SnapshotTaken>().Select(s => s.EntityId), Self);
            _observer.Tell(new C.CheckpointTaken(_lastCheckpoint));
            _schedule.CheckpointTaken(true);
            Drive();
        });
    }

    /// <summary>
    /// A change between rounds, in the reference engine's terms (<see cref="RunChanges.Plan"/>): a new member is
    /// configured first (if it cannot be, nothing changes), then every entity takes the new settings, a removed member
    /// is retired, and the schedule goes on with the new settings.
    /// </summary>
    private void ApplyChange(RunChange change, IActorRef requester)
    {
        ChangePlan plan;
        try
        {
            plan = RunChanges.Plan(Settings, change);
        }
        catch (SettingsException e)
        {
            Refused(requester, string.Join("; ", e.Problems));
            return;
        }
        var json = SettingsJson.Serialize(plan.Settings);
        if (plan.Added is not { } added)
        {
            Commit(plan, json, requester);
            return;
        }
        var entity = new DiscriminatorId(added).EntityId;
        var id = NextRequest();
        Send(new E.Configure(entity, id, json, Self, RunId));
        Expect($"configure {entity}", id, 1, answers =>
        {
            if (answers.OfType<E.Configured>().FirstOrDefault() is not { } configured)
            {
                Refused(requester, $"{entity} could not be created: no confirmation within {_stepTimeout}");
                return;
            }
            _observer.Tell(new C.Placed(new Dictionary<string, string> { [entity] = configured.Node }));
            Commit(plan, json, requester);
        });
    }

    private void Refused(IActorRef requester, string reason)
    {
        requester.Tell(new C.ChangeRefused(reason));
        _schedule.ChangeApplied(null, reason);
        Drive();
    }

    private void Commit(ChangePlan plan, string json, IActorRef requester)
    {
        var keeping = _members.Where(i => i != plan.Removed).ToArray();
        var id = NextRequest();
        foreach (var entity in Entities(keeping))
            Send(new E.ApplySettings(entity, id, json, !EntityIds.IsGenerator(entity) && plan.ResetLearningRate.Contains(DiscriminatorId.Parse(entity).Member), Round, Self));
        Expect($"change '{plan.Description}'", id, 1 + keeping.Length, answers =>
        {
            if (answers.Count < 1 + keeping.Length)
                _log.Warning("change '{0}': {1} of {2} entities confirmed it", plan.Description, answers.Count, 1 + keeping.Length);
            if (plan.Removed is { } removed)
            {
                _discriminators.Tell(new D.Retire(new DiscriminatorId(removed), Round));
                _learningRates.Remove(removed);
                _recovery.Forget(removed);
                _positions.Forget(new DiscriminatorId(removed).EntityId); // the next stored position no longer names it
            }
            _members = plan.Settings.ActiveMembers;
            foreach (var i in _members.Where(i => i == plan.Added || plan.ResetLearningRate.Contains(i))) _learningRates[i] = plan.Settings.ForMember(i).LrD;
            var report = new C.RunChanged(new ChangeReport(Round, plan.Description, plan.Settings));
            requester.Tell(report);
            _observer.Tell(report);
            _schedule.ChangeApplied(plan.Settings);
            Drive();
        });
    }

    /// <summary>The evaluation's metrics, computed off the actor's thread (PipeTo result).</summary>
    private sealed record MetricsComputed(float[] Samples, long[] Shape, EvaluationMetrics.Result? Metrics, Exception? Error);
}
