using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Data;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Health;
using AkkaGan.Core.Population;
using AkkaGan.Core.Settings;
using static TorchSharp.torch;

namespace AkkaGan.Core.Training;

/// <summary>
/// The monolithic engine: one loop, no actors, composing the same <see cref="GeneratorCore"/> and
/// <see cref="DiscriminatorCore"/>s the cluster actors wrap. Round r: n-critic discriminator steps (each member its own
/// fake batch), then one generator step with feedback from the selected members, aggregated in member order; then
/// evolution, evaluation and checkpoint on their intervals. The correctness and performance baseline of the cluster engine.
/// </summary>
public sealed class ReferenceTrainer : IDisposable
{
    public const string EngineName = "reference";
    private readonly ITrainingObserver _observer;
    private readonly Device _device;
    private readonly List<DiscriminatorCore> _discriminators;
    private readonly Func<EvaluationMetrics> _createMetrics;
    private EvaluationMetrics? _metrics;

    /// <param name="metrics">The evaluation's metrics, made at the first evaluation (default: <see cref="EvaluationMetrics.Create(TrainingSettings, IRealData, Action{string}?)"/>).</param>
    public ReferenceTrainer(TrainingSettings settings, IRealData data, Device device, ITrainingObserver? observer = null, Func<EvaluationMetrics>? metrics = null)
    {
        Settings = settings.Validate();
        Data = data;
        _createMetrics = metrics ?? (() => EvaluationMetrics.Create(settings, data));
        _observer = observer ?? new NullObserver();
        _device = device;
        Generator = new GeneratorCore(Settings, data.SampleShape, device);
        _discriminators = [.. Settings.ActiveMembers.Select(i => new DiscriminatorCore(Settings, i, data, device))];
    }

    /// <summary>The run's settings as they are now (live changes included).</summary>
    public TrainingSettings Settings { get; private set; }
    public IRealData Data { get; }
    public GeneratorCore Generator { get; }
    /// <summary>The population taking part, in member order (ids may have gaps after a removal).</summary>
    public IReadOnlyList<DiscriminatorCore> Discriminators => _discriminators;
    /// <summary>Rounds completed so far (the next round is Round + 1).</summary>
    public long Round { get; private set; }

    /// <summary>Runs rounds until <see cref="TrainingSettings.Rounds"/> or cancellation, with evaluations and checkpoints.</summary>
    public void Run(CheckpointStore? checkpoints, CancellationToken cancellation = default) => Run(checkpoints, null, cancellation);

    /// <summary>As <see cref="Run(CheckpointStore?, CancellationToken)"/>, steered by an operator between rounds.</summary>
    /// <param name="control">An operator's pause, resume and checkpoint requests, honoured between rounds.</param>
    public void Run(CheckpointStore? checkpoints, RunControl? control, CancellationToken cancellation = default)
    {
        // The divergence guard rolls back to the last checkpoint, of the interval or an operator's request, as the
        // coordinator does (kept in memory; the start state before the first one).
        var lastGood = CreateCheckpoint();
        void Checkpoint()
        {
            lastGood = CreateCheckpoint();
            if (checkpoints is not null) _observer.OnCheckpoint(Round, checkpoints.Save(lastGood));
        }
        void ServeRequests()
        {
            if (control?.TakeCheckpointRequest() == true) Checkpoint();
            control?.ServeSampleRequests(Samples);
            control?.ServeChangeRequests(Apply);
        }

        var guard = new DivergenceGuard(Settings.GradNormLimit);
        var rollbacks = 0;
        var health = new HealthMonitor(Settings.Health);
        var remedies = new HealthRemedies(Settings.Health);
        while (Round < Settings.Rounds && !cancellation.IsCancellationRequested)
        {
            control?.WaitWhilePaused(cancellation, ServeRequests);
            if (cancellation.IsCancellationRequested) break;
            var report = RunRound();
            if (Settings.MaxRollbacks > 0 && guard.Check(report) is { } reason)
            {
                if (++rollbacks > Settings.MaxRollbacks)
                    throw new TrainingDivergedException(DivergenceGuard.GiveUp(reason, Settings.MaxRollbacks, lastGood.Metadata.Round), lastGood.Metadata.Round);
                _observer.OnFault(new FaultReport(Round, GeneratorCore.EntityId, "diverged", reason));
                health.Diverged(Round, reason);
                _observer.OnFault(new FaultReport(Round, GeneratorCore.EntityId, "rolled-back", DivergenceGuard.RollBackDetail(reason, lastGood.Metadata.Round, Round)));
                RollBackTo(lastGood);
                guard.Reset();
                Apply(new ScaleLearningRates(Settings.RollbackLrFactor) { Reason = "divergence guard" });
                continue;
            }
            // A diverged round is rolled back before the population evolves: its evolution would be undone unreported.
            if (Settings.EvolveEvery > 0 && Round % Settings.EvolveEvery == 0) _observer.OnEvolution(Evolve(Round));
            _observer.OnRound(report);
            health.Observe(report);
            if (Round % Settings.EvalEvery == 0 || Round == Settings.Rounds)
            {
                var evaluation = Evaluate();
                health.Observe(evaluation);
                _observer.OnEvaluation(evaluation);
            }
            if (Round % Settings.Health.Every == 0) CheckHealth(health, remedies, guard);
            if (Round % Settings.CheckpointEvery == 0 || Round == Settings.Rounds) Checkpoint();
            ServeRequests();
        }
    }

    /// <summary>
    /// A diagnosis after this round, and with <c>--auto-remedy</c> its remedy, applied before the round's checkpoint
    /// (which then holds the new settings), as the cluster engine's coordinator does.
    /// </summary>
    private void CheckHealth(HealthMonitor health, HealthRemedies remedies, DivergenceGuard guard)
    {
        var report = health.Diagnose(Round);
        if (!Settings.Health.AutoRemedy)
        {
            _observer.OnHealth(report);
            return;
        }
        var action = remedies.Decide(report, Settings, out var note);
        _observer.OnHealth(report with { Action = action, RemedyNote = note });
        if (action is null) return;
        try
        {
            Apply(action.Change);
            remedies.Applied(action, Round);
            guard.Reset(); // a remedy changes the regime on purpose: the norms' median starts again
        }
        catch (SettingsException e)
        {
            _observer.OnHealth(report with { RemedyNote = $"{action.RemedyName} refused: {string.Join("; ", e.Problems)}" });
        }
    }

    /// <summary>One round's steps (see the class summary); evolution, evaluation and checkpoints are <see cref="Run(CheckpointStore?, RunControl?, CancellationToken)"/>'s.</summary>
    public RoundReport RunRound()
    {
        var round = Round + 1;
        var batch = Settings.Batch;
        var last = new DiscriminatorStepResult[Discriminators.Count];
        for (var step = 0; step < Settings.NCritic; step++)
        {
            for (var i = 0; i < _discriminators.Count; i++)
            {
                using var scope = NewDisposeScope();
                var d = _discriminators[i];
                var fake = Generator.GenerateFakes(round, step, d.Member, batch);
                last[i] = d.TrainStep(round, step, fake);
            }
        }

        GeneratorStepResult result;
        var selected = Aggregation.SelectMembers(Settings, Discriminators.Select(d => d.Member).ToArray(), round);
        using (var scope = NewDisposeScope())
        {
            var fake = Generator.BeginStep(round);
            var feedback = selected.Select(m => Member(m).Feedback(round, fake)).ToArray();
            var (gradient, loss) = Aggregation.Combine(Settings.Aggregate, feedback, Settings.SoftmaxLambda);
            result = Generator.CompleteStep(round, gradient, loss);
        }
        Round = round;
        return new RoundReport(round, result.Loss, result.GradientNorm, last, selected) { FeedbackNorm = result.FeedbackNorm, GeneratorDrift = result.Drift };
    }

    /// <summary>Exploit/explore: rank by fitness, copy the best into the worst with a perturbed learning rate.</summary>
    public EvolutionReport Evolve(long round)
    {
        var fitness = FitnessOf(round);
        var (best, worst) = Evolution.Rank(fitness);
        var uniform = Evolution.Uniform(Settings.Seed, round);
        var lr = Evolution.PerturbLearningRate(Member(best).Optimizer.LearningRate, Settings.LrPerturbation, uniform);
        if (best != worst) Member(worst).CopyFrom(Member(best).Snapshot(), lr);
        return new EvolutionReport(round, best, worst, fitness[best], fitness[worst], lr);
    }

    /// <summary>Fitness of every member on one shared fake batch and the shared real fitness batch.</summary>
    public Dictionary<int, double> FitnessOf(long round)
    {
        using var scope = NewDisposeScope();
        var fake = Generator.GenerateFakes(round, 0, -1, Settings.Batch);
        return Discriminators.ToDictionary(d => d.Member, d => d.Fitness(round, fake));
    }

    /// <summary>Evaluation samples, their metrics (mixture metrics for 2-D data, classifier metrics for images) and population fitness.</summary>
    public EvaluationReport Evaluate()
    {
        using var scope = NewDisposeScope();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var samples = Generator.Sample(Settings.EvalSamples);
        var flat = samples.to(float32).contiguous().data<float>().ToArray();
        _metrics ??= _createMetrics();
        var (mixture, image, diversity) = _metrics.Compute(samples);
        var fitness = FitnessOf(Round);
        return new EvaluationReport(Round, mixture, flat, Data.SampleShape, Settings.EvalSamples, fitness)
        {
            Image = image,
            Diversity = diversity,
            Seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds,
        };
    }

    /// <summary>Samples from the generator as it is now (the evaluation's fixed noise stream).</summary>
    public SampleBatch Samples(int count)
    {
        using var scope = NewDisposeScope();
        var samples = Generator.Sample(count);
        return new SampleBatch(samples.to(float32).contiguous().data<float>().ToArray(), Data.SampleShape, count);
    }

    public Checkpoint CreateCheckpoint() => new(
        new CheckpointMetadata(Round, Settings.Seed, SettingsJson.Serialize(Settings), EngineName, DateTimeOffset.UtcNow),
        [Generator.Snapshot(), .. Discriminators.Select(d => d.Snapshot())]);

    /// <summary>
    /// Applies an operator's change between rounds (<see cref="RunChanges.Plan"/>): new settings to every core, a new
    /// member created as a fresh discriminator, a removed one disposed. Throws <see cref="SettingsException"/> and
    /// changes nothing when the change is invalid.
    /// </summary>
    public ChangeReport Apply(RunChange change)
    {
        var plan = RunChanges.Plan(Settings, change);
        Settings = plan.Settings;
        Generator.Update(Settings);
        foreach (var d in _discriminators) d.Update(Settings, plan.ResetLearningRate.Contains(d.Member));
        if (plan.Added is { } added) _discriminators.Add(new DiscriminatorCore(Settings, added, Data, _device));
        if (plan.Removed is { } removed)
        {
            var member = Member(removed);
            _discriminators.Remove(member);
            member.Dispose();
        }
        var report = new ChangeReport(Round, plan.Description, Settings);
        _observer.OnChange(report);
        return report;
    }

    /// <summary>Every entity back to <paramref name="checkpoint"/> (members created since keep their state).</summary>
    private void RollBackTo(Checkpoint checkpoint)
    {
        Generator.Restore(checkpoint.Entity(GeneratorCore.EntityId));
        foreach (var d in _discriminators)
            if (checkpoint.Entities.FirstOrDefault(e => e.EntityId == d.EntityId) is { } snapshot) d.Restore(snapshot);
        Round = checkpoint.Metadata.Round;
    }

    private DiscriminatorCore Member(int member) => _discriminators.First(d => d.Member == member);

    /// <summary>Restores every entity from a checkpoint of a compatible run; validates all entities first.</summary>
    public void Restore(Checkpoint checkpoint)
    {
        checkpoint.EnsureWithin(Settings.Rounds);
        var entities = Discriminators.Select(d => checkpoint.Entity(d.EntityId)).ToArray();
        Generator.Restore(checkpoint.Entity(GeneratorCore.EntityId));
        for (var i = 0; i < entities.Length; i++) Discriminators[i].Restore(entities[i]);
        Round = checkpoint.Metadata.Round;
    }

    public void Dispose()
    {
        Generator.Dispose();
        foreach (var d in _discriminators) d.Dispose();
        _metrics?.Dispose();
    }

    private sealed class NullObserver : ITrainingObserver;
}
