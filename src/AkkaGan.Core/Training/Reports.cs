using AkkaGan.Core.Metrics;

namespace AkkaGan.Core.Training;

/// <summary>The outcome of one round: losses per discriminator (last critic step) and of the generator.</summary>
public sealed record RoundReport(long Round, double GeneratorLoss, double GeneratorGradientNorm,
    IReadOnlyList<DiscriminatorStepResult> Discriminators, IReadOnlyList<int> FeedbackMembers)
{
    /// <summary>Norm of the aggregated dL/dx_fake the generator stepped on (<see cref="GeneratorStepResult.FeedbackNorm"/>).</summary>
    public double FeedbackNorm { get; init; } = double.NaN;

    /// <summary>Relative parameter change of the generator's step (<see cref="GeneratorStepResult.Drift"/>).</summary>
    public double GeneratorDrift { get; init; } = double.NaN;

    /// <summary>The mean of the discriminators' losses (NaN when none took part).</summary>
    public double MeanDiscriminatorLoss => Discriminators.Count == 0 ? double.NaN : Discriminators.Average(d => d.Loss);
}

/// <summary>
/// An evaluation: mixture metrics for 2-D data (null for images), the evaluation samples (float32, row-major,
/// shape <see cref="SampleShape"/> per sample) for plots, and each discriminator's fitness.
/// </summary>
public sealed record EvaluationReport(long Round, MixtureMetrics? Mixture, float[] Samples, long[] SampleShape, int SampleCount,
    IReadOnlyDictionary<int, double> Fitness)
{
    /// <summary>Classifier metrics for image datasets (null for 2-D data).</summary>
    public ImageMetrics? Image { get; init; }

    /// <summary>Diversity of the samples against real data (any dataset; null when not computed).</summary>
    public SampleDiversity? Diversity { get; init; }

    /// <summary>Sliced Wasserstein distance (any data; pixels for images) and MMD (points) of the samples from real data.</summary>
    public DistributionDistance? Distance { get; init; }

    /// <summary>Precision, recall, density and coverage against real samples (any data; null when not computed).</summary>
    public Fidelity? Fidelity { get; init; }

    /// <summary>Wall time of the evaluation in the engine: samples, metrics and fitness.</summary>
    public double Seconds { get; init; }
}

/// <summary>A population change: the worst member received the best one's weights with a perturbed learning rate.</summary>
public sealed record EvolutionReport(long Round, int Best, int Worst, double BestFitness, double WorstFitness, double NewLearningRate);

/// <summary>
/// A fault the cluster engine handled: an entity's node marked unreachable by the failure detector (<c>unreachable</c>,
/// saying what the run waits for) or reachable again (<c>reachable</c>), a member left out of rounds (<c>suspended</c>),
/// restored and taking part again (<c>recovered</c>), or the run rolled back to its last checkpoint (<c>rolled-back</c>,
/// with the rounds redone).
/// </summary>
public sealed record FaultReport(long Round, string Entity, string Event, string Detail);

/// <summary>Receives what a training engine does, for progress display and output files.</summary>
public interface ITrainingObserver
{
    /// <summary>A round is done.</summary>
    void OnRound(RoundReport report) { }
    /// <summary>An evaluation is done (metrics, samples, fitness).</summary>
    void OnEvaluation(EvaluationReport report) { }
    /// <summary>The population evolved: the worst member took the best one's weights.</summary>
    void OnEvolution(EvolutionReport report) { }
    /// <summary>A checkpoint of round <paramref name="round"/> was written to <paramref name="path"/>.</summary>
    void OnCheckpoint(long round, string path) { }
    /// <summary>An operator's change took effect (it holds from the report's round + 1).</summary>
    void OnChange(ChangeReport report) { }
    /// <summary>Where each entity runs (entity id -> node address), when known (cluster engine).</summary>
    void OnPlaced(IReadOnlyDictionary<string, string> nodes) { }
    /// <summary>A fault was detected or handled (cluster engine).</summary>
    void OnFault(FaultReport report) { }
    /// <summary>A training-health diagnosis (every <c>health.every</c> rounds), with the remedy it led to, if any.</summary>
    void OnHealth(Health.HealthReport report) { }
}
