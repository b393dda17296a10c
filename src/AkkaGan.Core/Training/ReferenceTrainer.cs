using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Data;
using AkkaGan.Core.Diagnostics;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Health;
using AkkaGan.Core.Population;
using AkkaGan.Core.Settings;
using static TorchSharp.torch;

using AkkaGan.Core.Tensors;

namespace AkkaGan.Core.Training;

/// <summary>
/// The monolithic engine: one loop, no actors, composing the same <see cref="GeneratorCore"/> and
/// <see cref="DiscriminatorCore"/>s the cluster actors wrap. Round r: n-critic discriminator steps (each member its own
/// fake batch), then one generator step with feedback from the selected members, aggregated in member order; then
/// evolution, evaluation and checkpoint on their intervals. The correctness and performance baseline of the cluster engine.
/// </summary>
public sealed class ReferenceTrainer : IDisposable
{
    /// <summary>The engine's name in checkpoints, summaries and <c>--engine</c>.</summary>
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
        _discriminators = [.. Settings.ActiveMembers.Select(i => new DiscriminatorCore(Settings, i, RunData.ForMember(data, Settings, i), device))];
    }

    /// <summary>The run's settings as they are now (live changes included).</summary>
    public TrainingSettings Settings { get; private set; }
    /// <summary>The real data the discriminators sample.</summary>
    public IRealData Data { get; }
    /// <summary>The generator's computation.</summary>
    public GeneratorCore Generator { get; }
    /// <summary>The population taking part, in member order (ids may have gaps after a removal).</summary>
    public IReadOnlyList<DiscriminatorCore> Discriminators => _discriminators;
    /// <summary>Rounds completed so far (the next round is Round + 1).</summary>
    public long Round { get; private set; }

    /// <summary>Runs the schedule's steps until <see cref="TrainingSettings.Rounds"/> or cancellation (a stop: the last round is evaluated and checkpointed).</summary>
    public RunStep.Finish Run(CheckpointStore? checkpoints, CancellationToken cancellation = default) => Run(checkpoints, null, cancellation);

    /// <summary>
    /// Executes <see cref="RunSchedule"/>'s steps in a loop, steered by an operator between rounds. Throws
    /// <see cref="TrainingDivergedException"/> when the divergence guard gives up.
    /// </summary>
    /// <param name="control">An operator's pause, resume, checkpoint, change and sample requests.</param>
    /// <param name="cancellation">A stop: the round in progress completes, then the run is evaluated, checkpointed and finished.</param>
    public RunStep.Finish Run(CheckpointStore? checkpoints, RunControl? control, CancellationToken cancellation = default)
    {
        var schedule = new RunSchedule(Settings, Round);
        // The roll-back target, kept in memory: the start state until the first checkpoint.
        var lastGood = CreateCheckpoint();
        using var wake = new SemaphoreSlim(0);
        void Wake() => wake.Release();
        if (control is not null) control.Changed += Wake;
        try
        {
            while (true)
            {
                Steer(schedule, control, cancellation);
                switch (schedule.Next())
                {
                    case RunStep.PlayRound:
                        schedule.RoundPlayed(RunRound());
                        break;
                    case RunStep.Evolve evolve:
                        _observer.OnEvolution(Evolve(evolve.Round));
                        schedule.Evolved();
                        break;
                    case RunStep.PublishRound published:
                        _observer.OnRound(published.Report);
                        break;
                    case RunStep.Evaluate:
                        var evaluation = Evaluate();
                        _observer.OnEvaluation(evaluation);
                        schedule.Evaluated(evaluation);
                        break;
                    case RunStep.PublishHealth health:
                        _observer.OnHealth(health.Report);
                        break;
                    case RunStep.PublishFault fault:
                        _observer.OnFault(fault.Report);
                        break;
                    case RunStep.TakeCheckpoint:
                        lastGood = CreateCheckpoint();
                        if (checkpoints is not null) _observer.OnCheckpoint(Round, checkpoints.Save(lastGood));
                        schedule.CheckpointTaken(true);
                        break;
                    case RunStep.ApplyChange apply:
                        ApplyScheduled(schedule, apply);
                        break;
                    case RunStep.RollBack:
                        RollBackTo(lastGood);
                        schedule.RolledBack();
                        break;
                    case RunStep.Wait:
                        try
                        {
                            wake.Wait(cancellation);
                        }
                        catch (OperationCanceledException)
                        {
                            // a stop: the next pass hands it to the schedule
                        }
                        break;
                    case RunStep.Finish finish:
                        foreach (var (_, requester) in schedule.TakeUnservedChanges())
                            (requester as ChangeRequest)?.Fail(new SettingsException($"the training {(finish.Outcome == RunOutcome.Completed ? "completed" : "stopped")} at round {Round}"));
                        if (finish.Outcome == RunOutcome.Diverged) throw new TrainingDivergedException(finish.Reason!, schedule.LastGoodRound);
                        return finish;
                }
            }
        }
        finally
        {
            if (control is not null) control.Changed -= Wake;
        }
    }

    /// <summary>An operator's requests to the schedule (samples are served at once: they change nothing).</summary>
    private void Steer(RunSchedule schedule, RunControl? control, CancellationToken cancellation)
    {
        if (cancellation.IsCancellationRequested) schedule.Stop();
        if (control is null) return;
        if (control.IsPaused) schedule.Pause();
        else schedule.Resume();
        if (control.TakeCheckpointRequest()) schedule.RequestCheckpoint();
        foreach (var request in control.TakeChangeRequests()) schedule.RequestChange(request.Change, request);
        control.ServeSampleRequests(Samples);
    }

    private void ApplyScheduled(RunSchedule schedule, RunStep.ApplyChange apply)
    {
        var request = apply.Requester as ChangeRequest;
        try
        {
            var report = Apply(apply.Change);
            schedule.ChangeApplied(report.Settings);
            request?.Complete(report);
        }
        catch (SettingsException e)
        {
            schedule.ChangeApplied(null, string.Join("; ", e.Problems));
            request?.Fail(e);
        }
    }

    /// <summary>One round's steps (see the class summary); evolution, evaluation and checkpoints are <see cref="Run(CheckpointStore?, RunControl?, CancellationToken)"/>'s.</summary>
    public RoundReport RunRound()
    {
        var round = Round + 1;
        MemoryTrace.Observe(round);
        var batch = Settings.Batch;
        var last = new DiscriminatorStepResult[Discriminators.Count];
        for (var step = 0; step < Settings.NCritic; step++)
        {
            for (var i = 0; i < _discriminators.Count; i++)
            {
                using var scope = NewDisposeScope();
                var d = _discriminators[i];
                var fake = TensorCodec.ThroughWire(Generator.GenerateFakes(round, step, d.Member, batch), Settings.WireDType);
                last[i] = d.TrainStep(round, step, fake);
            }
        }

        GeneratorStepResult result;
        var selected = Aggregation.SelectMembers(Settings, Discriminators.Select(d => d.Member).ToArray(), round);
        using (var scope = NewDisposeScope())
        {
            // Where the cluster engine sends x_fake and dL/dx_fake, the reference rounds them to the wire's type.
            var fake = TensorCodec.ThroughWire(Generator.BeginStep(round), Settings.WireDType);
            var feedback = selected.Select(m => Member(m).Feedback(round, fake))
                .Select(f => f with { Gradient = TensorCodec.ThroughWire(f.Gradient, Settings.WireDType) }).ToArray();
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
        var fake = TensorCodec.ThroughWire(Generator.GenerateFakes(round, 0, -1, Settings.Batch), Settings.WireDType);
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
        var metrics = _metrics.Compute(samples);
        var fitness = FitnessOf(Round);
        return new EvaluationReport(Round, metrics.Mixture, flat, Data.SampleShape, Settings.EvalSamples, fitness)
        {
            Image = metrics.Image,
            Diversity = metrics.Diversity,
            Distance = metrics.Distance,
            Fidelity = metrics.Fidelity,
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

    /// <summary>A checkpoint of the run as it is: the round, seed and settings, and every entity's state.</summary>
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
        if (plan.Added is { } added) _discriminators.Add(new DiscriminatorCore(Settings, added, RunData.ForMember(Data, Settings, added), _device));
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

    /// <summary>Disposes the networks, optimizers and the evaluation's metrics.</summary>
    public void Dispose()
    {
        Generator.Dispose();
        foreach (var d in _discriminators) d.Dispose();
        _metrics?.Dispose();
    }

    private sealed class NullObserver : ITrainingObserver;
}
