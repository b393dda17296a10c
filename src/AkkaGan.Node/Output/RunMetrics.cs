using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using AkkaGan.Core.Training;

namespace AkkaGan.Node.Output;

/// <summary>
/// The training's metrics as .NET instruments on the meter <see cref="MeterName"/>, fed by the engine's reports (both
/// engines report the same way): what an OpenTelemetry exporter (<see cref="MetricsExport"/>) scrapes or pushes.
/// Counters count rounds, evaluations, evolutions, checkpoints, operator changes and faults (by event); a histogram
/// holds the seconds between rounds; gauges show the last losses (the generator's and each member's), the last
/// evaluation's metrics, the members and the throughput. With no exporter listening, recording costs next to nothing.
/// </summary>
internal sealed class RunMetrics : ITrainingObserver, IDisposable
{
    /// <summary>The meter's name: what <c>AddMeter</c> subscribes to.</summary>
    public const string MeterName = "AkkaGan";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _rounds;
    private readonly Histogram<double> _roundSeconds;
    private readonly Counter<long> _evaluations;
    private readonly Counter<long> _evolutions;
    private readonly Counter<long> _checkpoints;
    private readonly Counter<long> _changes;
    private readonly Counter<long> _faults;
    private readonly ConcurrentDictionary<int, double> _discriminatorLoss = new();
    private readonly ConcurrentDictionary<string, double> _evaluation = new(StringComparer.Ordinal);
    private readonly Stopwatch _sinceRound = new();
    private double _generatorLoss = double.NaN;
    private long _round;

    /// <param name="roundsPerSecond">The run's throughput as its outputs measure it.</param>
    public RunMetrics(Func<double> roundsPerSecond)
    {
        _rounds = _meter.CreateCounter<long>("akkagan.rounds", "{round}", "Training rounds completed by this process");
        _roundSeconds = _meter.CreateHistogram<double>("akkagan.round.duration", "s", "Time from one completed round to the next (evaluations and checkpoints included)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30] });
        _evaluations = _meter.CreateCounter<long>("akkagan.evaluations", "{evaluation}", "Evaluations done");
        _evolutions = _meter.CreateCounter<long>("akkagan.evolutions", "{evolution}", "Population evolutions (the worst member took the best one's weights)");
        _checkpoints = _meter.CreateCounter<long>("akkagan.checkpoints", "{checkpoint}", "Checkpoints written");
        _changes = _meter.CreateCounter<long>("akkagan.changes", "{change}", "Operator changes applied (gan set, population add/remove, remedies)");
        _faults = _meter.CreateCounter<long>("akkagan.faults", "{fault}", "Faults the cluster engine handled, by event (unreachable, reachable, suspended, recovered, rolled-back)");
        _meter.CreateObservableGauge("akkagan.round", () => Interlocked.Read(ref _round), "{round}", "The last completed round");
        _meter.CreateObservableGauge("akkagan.rounds_per_second", roundsPerSecond, "{round}/s", "Training throughput of this process");
        _meter.CreateObservableGauge("akkagan.loss.generator", () => Volatile.Read(ref _generatorLoss), "1", "The generator's loss in the last round");
        _meter.CreateObservableGauge("akkagan.loss.discriminator",
            () => _discriminatorLoss.Select(m => new Measurement<double>(m.Value, new KeyValuePair<string, object?>("member", $"d-{m.Key}"))),
            "1", "Each discriminator's loss in the last round it trained");
        _meter.CreateObservableGauge("akkagan.members", () => _discriminatorLoss.Count, "{member}", "Discriminators that trained in the last round");
        _meter.CreateObservableGauge("akkagan.evaluation",
            () => _evaluation.Select(m => new Measurement<double>(m.Value, new KeyValuePair<string, object?>("metric", m.Key))),
            "1", "The last evaluation's metrics, by name (modes_captured, high_quality_fraction, reverse_kl, sliced_wasserstein, mmd; images: modes_covered, kl_to_uniform, fcd)");
    }

    public void OnRound(RoundReport report)
    {
        _rounds.Add(1);
        if (_sinceRound.IsRunning) _roundSeconds.Record(_sinceRound.Elapsed.TotalSeconds);
        _sinceRound.Restart();
        Interlocked.Exchange(ref _round, report.Round);
        Volatile.Write(ref _generatorLoss, report.GeneratorLoss);
        // A member that left the population stops being shown; the others show their last critic step's loss.
        foreach (var member in _discriminatorLoss.Keys)
            if (report.Discriminators.All(d => d.Member != member))
                _discriminatorLoss.TryRemove(member, out _);
        foreach (var step in report.Discriminators) _discriminatorLoss[step.Member] = step.Loss;
    }

    public void OnEvaluation(EvaluationReport report)
    {
        _evaluations.Add(1);
        if (report.Mixture is { } mixture)
        {
            _evaluation["modes_captured"] = mixture.ModesCaptured;
            _evaluation["high_quality_fraction"] = mixture.HighQualityFraction;
            _evaluation["reverse_kl"] = mixture.ReverseKl;
        }
        if (report.Image is { } image)
        {
            _evaluation["modes_covered"] = image.ModesCovered;
            _evaluation["kl_to_uniform"] = image.KlToUniform;
            _evaluation["fcd"] = image.Fcd;
        }
        if (report.Distance is { } distance)
        {
            _evaluation["sliced_wasserstein"] = distance.SlicedWasserstein;
            if (distance.Mmd is { } mmd) _evaluation["mmd"] = mmd;
        }
        if (report.Fidelity is { } fidelity)
        {
            _evaluation["precision"] = fidelity.Precision;
            _evaluation["recall"] = fidelity.Recall;
            _evaluation["density"] = fidelity.Density;
            _evaluation["coverage"] = fidelity.Coverage;
        }
    }

    public void OnEvolution(EvolutionReport report) => _evolutions.Add(1);

    public void OnCheckpoint(long round, string path) => _checkpoints.Add(1);

    public void OnChange(ChangeReport report) => _changes.Add(1);

    public void OnFault(FaultReport report) => _faults.Add(1, new KeyValuePair<string, object?>("event", report.Event));

    public void Dispose() => _meter.Dispose();
}
