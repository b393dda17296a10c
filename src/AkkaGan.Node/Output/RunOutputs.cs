using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using AkkaGan.Core.Data;
using AkkaGan.Core.Health;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AkkaGan.Node.Output;

/// <summary>
/// Writes a run's outputs (DESIGN.md section 8): metrics.jsonl (one line per evaluation and per population event),
/// samples/*.png, TensorBoard events under tb/, and summary.json at the end. Engine-agnostic: it observes
/// <see cref="ITrainingObserver"/> events, so the reference and cluster engines produce the same files.
/// </summary>
public sealed class RunOutputs : ITrainingObserver, IDisposable
{
    private TrainingSettings _settings;   // as they are now: live changes and remedies included
    private readonly GaussianMixture? _mixture;
    private readonly float[]? _realPoints;   // 2-D points of a points file, held out: what its scatter plots show the samples over
    private readonly StreamWriter _metrics;
    private readonly SummaryWriter _tensorBoard;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _startRound;
    private readonly string _engine;
    private readonly List<FaultReport> _faults = [];
    private RoundReport? _lastRound;
    private (long Round, TimeSpan At)? _firstRoundDone;
    private TimeSpan _lastRoundAt;
    private int _evolutions;
    private HealthReport? _lastHealth;
    private readonly Dictionary<HealthStatus, int> _diagnoses = [];
    private readonly List<(long Round, RemedyAction Action)> _remedies = [];

    public RunOutputs(string directory, TrainingSettings settings, IRealData data, string engine)
    {
        Directory = directory;
        _settings = settings;
        _engine = engine;
        _mixture = data as GaussianMixture;
        if (data is PointCloud { Dimension: 2 } points)
        {
            using var held = points.HeldOut;
            _realPoints = held.data<float>().ToArray();
        }
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "samples"));
        _metrics = new StreamWriter(Path.Combine(directory, "metrics.jsonl"), append: true) { AutoFlush = true };
        _tensorBoard = utils.tensorboard.SummaryWriter(Path.Combine(directory, "tb"));
    }

    public string Directory { get; }
    public EvaluationReport? LastEvaluation { get; private set; }
    public string? LastCheckpoint { get; private set; }
    public string? LastSamplePng { get; private set; }
    /// <summary>
    /// Training throughput: rounds from the first completed round to the last over the time between them, so an engine's
    /// set-up (a cluster forming, entities configured) and tear-down (a final checkpoint, the cluster leaving) do not
    /// count; evaluations, checkpoints and health checks between the rounds do. Before two rounds: rounds over the time
    /// since <see cref="BeginAt"/>.
    /// </summary>
    public double RoundsPerSecond
        => _firstRoundDone is { } first && _lastRound is { } last && last.Round > first.Round && _lastRoundAt > first.At
            ? (last.Round - first.Round) / (_lastRoundAt - first.At).TotalSeconds
            : _lastRound is null ? 0 : (_lastRound.Round - _startRound) / Math.Max(1e-9, _clock.Elapsed.TotalSeconds);

    /// <summary>Marks where this process starts (0, or the round of a resumed checkpoint) and restarts the clock.</summary>
    public void BeginAt(long round)
    {
        _startRound = round;
        _firstRoundDone = null;
        _clock.Restart();
    }

    public void OnRound(RoundReport report)
    {
        _lastRound = report;
        _lastRoundAt = _clock.Elapsed;
        _firstRoundDone ??= (report.Round, _lastRoundAt);
    }

    public void OnEvaluation(EvaluationReport report)
    {
        LastEvaluation = report;
        var round = report.Round;
        string? png = Path.Combine(Directory, "samples", $"round-{round.ToString("D6", CultureInfo.InvariantCulture)}.png");
        if (_mixture is not null)
        {
            var m = report.Mixture!;
            Plots.Scatter(png, report.Samples, report.SampleCount, _mixture,
                $"{_mixture.Name}, round {round}: {m.ModesCaptured}/{m.Modes} modes, HQ {m.HighQualityFraction:P0}");
        }
        else if (Plots.CanDraw(report.SampleShape))
        {
            var distanceText = report.Distance is { } d ? string.Create(CultureInfo.InvariantCulture, $": sliced W2 {d.SlicedWasserstein:F3}") : "";
            Plots.Samples(png, report.Samples, report.SampleCount, report.SampleShape, null, _realPoints, $"round {round}{distanceText}");
        }
        else png = null;   // points of more than 2 dimensions: metrics only
        LastSamplePng = png ?? LastSamplePng;
        string? histogramPng = null;
        if (report.Image is { } image)
        {
            histogramPng = Path.Combine(Directory, "samples", $"modes-round-{round.ToString("D6", CultureInfo.InvariantCulture)}.png");
            Plots.ModeHistogram(histogramPng, image, string.Create(CultureInfo.InvariantCulture,
                $"round {round}: {image.ModesCovered}/{image.Modes} modes, KL {image.KlToUniform:F3}, FCD {image.Fcd:F2} ({image.Samples} samples)"));
        }

        var line = new JsonObject
        {
            ["event"] = "eval",
            ["round"] = round,
            ["wall_seconds"] = Math.Round(_clock.Elapsed.TotalSeconds, 3),
            ["rounds_per_second"] = Math.Round(RoundsPerSecond, 3),
            ["rss_mb"] = Math.Round(Environment.WorkingSet / 1048576.0, 1),
            ["managed_mb"] = Math.Round(GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0, 1),
            ["live_tensors"] = TorchSharp.torch.Tensor.TotalCount,
            ["eval_seconds"] = Math.Round(report.Seconds, 3),
            ["generator_loss"] = _lastRound?.GeneratorLoss,
            ["generator_grad_norm"] = _lastRound?.GeneratorGradientNorm,
            ["discriminator_loss"] = _lastRound?.MeanDiscriminatorLoss,
            ["modes_captured"] = report.Mixture?.ModesCaptured,
            ["high_quality_fraction"] = report.Mixture?.HighQualityFraction,
            ["reverse_kl"] = report.Mixture?.ReverseKl,
            ["modes"] = report.Mixture?.Modes ?? report.Image?.Modes,
            ["modes_covered"] = report.Image?.ModesCovered,
            ["kl_to_uniform"] = report.Image?.KlToUniform,
            ["fcd"] = Finite(report.Image?.Fcd),
            ["pairwise_ratio"] = report.Diversity?.PairwiseRatio,
            ["duplicate_share"] = report.Diversity?.DuplicateShare,
            ["sliced_wasserstein"] = report.Distance?.SlicedWasserstein,
            ["mmd"] = report.Distance?.Mmd,
            ["precision"] = report.Fidelity?.Precision,
            ["recall"] = report.Fidelity?.Recall,
            ["density"] = report.Fidelity?.Density,
            ["coverage"] = report.Fidelity?.Coverage,
            ["health"] = _lastHealth?.StatusName,
            ["mode_counts"] = report.Image is { } counts ? new JsonArray([.. counts.ModeCounts.Select(c => (JsonNode)c)]) : null,
            ["discriminators"] = new JsonArray([.. (_lastRound?.Discriminators ?? []).Select(d => (JsonNode)new JsonObject
            {
                ["id"] = DiscriminatorCore.EntityIdOf(d.Member),
                ["loss"] = d.Loss,
                ["penalty"] = d.Penalty,
                ["real_score"] = d.RealScore,
                ["fake_score"] = d.FakeScore,
                ["grad_norm"] = d.GradientNorm,
                ["accuracy"] = Finite(d.Accuracy),
                ["fitness"] = report.Fitness.TryGetValue(d.Member, out var f) ? f : null,
            })]),
            ["samples_png"] = png is null ? null : Path.GetRelativePath(Directory, png),
            ["modes_png"] = histogramPng is null ? null : Path.GetRelativePath(Directory, histogramPng),
        };
        WriteMetrics(line.ToJsonString());

        var step = (int)round;
        if (_lastRound is not null)
        {
            _tensorBoard.add_scalar("loss/generator", (float)_lastRound.GeneratorLoss, step);
            _tensorBoard.add_scalar("grad_norm/generator", (float)_lastRound.GeneratorGradientNorm, step);
            foreach (var d in _lastRound.Discriminators)
            {
                _tensorBoard.add_scalar($"loss/{DiscriminatorCore.EntityIdOf(d.Member)}", (float)d.Loss, step);
                _tensorBoard.add_scalar($"fitness/{DiscriminatorCore.EntityIdOf(d.Member)}", (float)report.Fitness.GetValueOrDefault(d.Member), step);
            }
        }
        if (report.Mixture is { } mm)
        {
            _tensorBoard.add_scalar("metrics/modes_captured", mm.ModesCaptured, step);
            _tensorBoard.add_scalar("metrics/high_quality_fraction", (float)mm.HighQualityFraction, step);
            _tensorBoard.add_scalar("metrics/reverse_kl", (float)mm.ReverseKl, step);
        }
        if (report.Image is { } im)
        {
            _tensorBoard.add_scalar("metrics/modes_covered", im.ModesCovered, step);
            _tensorBoard.add_scalar("metrics/kl_to_uniform", (float)im.KlToUniform, step);
            if (double.IsFinite(im.Fcd)) _tensorBoard.add_scalar("metrics/fcd", (float)im.Fcd, step);
        }
        if (report.Diversity is { } diversity)
        {
            _tensorBoard.add_scalar("metrics/pairwise_ratio", (float)diversity.PairwiseRatio, step);
            _tensorBoard.add_scalar("metrics/duplicate_share", (float)diversity.DuplicateShare, step);
        }
        if (report.Distance is { } distance)
        {
            _tensorBoard.add_scalar("metrics/sliced_wasserstein", (float)distance.SlicedWasserstein, step);
            if (distance.Mmd is { } mmd) _tensorBoard.add_scalar("metrics/mmd", (float)mmd, step);
        }
        if (report.Fidelity is { } f)
            foreach (var (name, value) in new[] { ("precision", f.Precision), ("recall", f.Recall), ("density", f.Density), ("coverage", f.Coverage) })
                _tensorBoard.add_scalar($"metrics/{name}", (float)value, step);
        _tensorBoard.add_scalar("throughput/rounds_per_second", (float)RoundsPerSecond, step);
        if (png is not null) _tensorBoard.add_img("samples", png, step);
    }

    public void OnEvolution(EvolutionReport report)
    {
        _evolutions++;
        WriteMetrics(new JsonObject
        {
            ["event"] = "evolution",
            ["round"] = report.Round,
            ["best"] = DiscriminatorCore.EntityIdOf(report.Best),
            ["worst"] = DiscriminatorCore.EntityIdOf(report.Worst),
            ["best_fitness"] = report.BestFitness,
            ["worst_fitness"] = report.WorstFitness,
            ["new_lr"] = report.NewLearningRate,
        }.ToJsonString());
    }

    /// <summary>
    /// Records a change made through the control plane (<c>"event":"control"</c>: the command, who sent it, when, at
    /// which round), so that a run's metrics.jsonl explains its own history.
    /// </summary>
    public void OnControl(string command, string origin)
        => WriteMetrics(new JsonObject
        {
            ["event"] = "control",
            ["round"] = _lastRound?.Round ?? _startRound,
            ["time"] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["command"] = command,
            ["origin"] = origin,
        }.ToJsonString());

    /// <summary>Records a change as applied by the engine (<c>"event":"change"</c>): it holds from <c>round</c> + 1.</summary>
    public void OnChange(ChangeReport report)
    {
        _settings = report.Settings;
        WriteMetrics(new JsonObject
        {
            ["event"] = "change",
            ["round"] = report.Round,
            ["time"] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["change"] = report.Description,
        }.ToJsonString());
    }

    private JsonArray FaultsJson()
    {
        lock (_faults)
            return [.. _faults.Select(f => (JsonNode)new JsonObject { ["round"] = f.Round, ["entity"] = f.Entity, ["fault"] = f.Event, ["detail"] = f.Detail })];
    }

    /// <summary>
    /// Records a diagnosis (<c>"event":"health"</c>: status, evidence, every finding, the signals and the remedy applied),
    /// and its signals in TensorBoard under <c>health/</c> (the status as a number: 0 healthy, 1 vanishing-gradients,
    /// 2 mode-collapse, 3 non-convergence, 4 diverged).
    /// </summary>
    public void OnHealth(HealthReport report)
    {
        var s = report.Signals;
        lock (_diagnoses)
        {
            _lastHealth = report;
            _diagnoses[report.Status] = _diagnoses.GetValueOrDefault(report.Status) + 1;
            if (report.Action is { } applied) _remedies.Add((report.Round, applied));
        }
        WriteMetrics(new JsonObject
        {
            ["event"] = "health",
            ["round"] = report.Round,
            ["status"] = report.StatusName,
            ["evidence"] = report.Evidence,
            ["findings"] = new JsonArray([.. report.Findings.Select(f => (JsonNode)new JsonObject { ["status"] = SettingValues.Kebab(f.Status), ["evidence"] = f.Evidence })]),
            ["signals"] = SignalsJson(s),
            ["remedy"] = report.Action is { } action ? new JsonObject { ["name"] = action.RemedyName, ["against"] = SettingValues.Kebab(action.Against), ["reason"] = action.Reason } : null,
            ["remedy_note"] = report.RemedyNote,
        }.ToJsonString());
        var step = (int)report.Round;
        _tensorBoard.add_scalar("health/status", (float)report.Status, step);
        foreach (var (name, value) in new (string, double)[]
                 {
                     ("d_accuracy", s.DAccuracy), ("feedback_ratio", s.FeedbackRatio), ("generator_loss_std", s.GeneratorLossStd),
                     ("margin_sign_changes", s.MarginSignChanges), ("generator_drift", s.Drift), ("real_logit", s.RealLogit), ("fake_logit", s.FakeLogit),
                 })
            if (double.IsFinite(value)) _tensorBoard.add_scalar("health/" + name, (float)value, step);
    }

    private static JsonObject SignalsJson(HealthSignals s) => new()
    {
        ["rounds"] = s.Rounds,
        ["d_accuracy"] = Finite(s.DAccuracy),
        ["real_logit"] = Finite(s.RealLogit),
        ["fake_logit"] = Finite(s.FakeLogit),
        ["feedback_norm"] = Finite(s.FeedbackNorm),
        ["feedback_ratio"] = Finite(s.FeedbackRatio),
        ["generator_loss_std"] = Finite(s.GeneratorLossStd),
        ["discriminator_loss_std"] = Finite(s.DiscriminatorLossStd),
        ["margin_sign_changes"] = Finite(s.MarginSignChanges),
        ["generator_drift"] = Finite(s.Drift),
        ["non_finite"] = s.NonFinite,
        ["member_loss"] = new JsonObject(s.MemberLoss.Select(m => KeyValuePair.Create(DiscriminatorCore.EntityIdOf(m.Key), (JsonNode?)Finite(m.Value)))),
        ["member_accuracy"] = new JsonObject(s.MemberAccuracy.Select(m => KeyValuePair.Create(DiscriminatorCore.EntityIdOf(m.Key), (JsonNode?)Finite(m.Value)))),
        ["eval_round"] = s.EvalRound,
        ["modes_captured"] = s.ModesCaptured,
        ["modes"] = s.Modes,
        ["high_quality_fraction"] = Finite(s.HighQuality),
        ["class_entropy"] = Finite(s.ClassEntropy),
        ["pairwise_ratio"] = Finite(s.PairwiseRatio),
        ["duplicate_share"] = Finite(s.DuplicateShare),
    };

    /// <summary>summary.json's <c>health</c>: the last diagnosis, how often each status was diagnosed, and the remedies applied.</summary>
    private JsonObject? HealthJson()
    {
        lock (_diagnoses)
        {
            if (_lastHealth is not { } last) return null;
            return new JsonObject
            {
                ["status"] = last.StatusName,
                ["evidence"] = last.Evidence,
                ["round"] = last.Round,
                ["diagnoses"] = new JsonObject(_diagnoses.OrderBy(d => d.Key).Select(d => KeyValuePair.Create(SettingValues.Kebab(d.Key), (JsonNode?)d.Value))),
                ["remedies"] = new JsonArray([.. _remedies.Select(r => (JsonNode)new JsonObject
                {
                    ["round"] = r.Round, ["name"] = r.Action.RemedyName, ["against"] = SettingValues.Kebab(r.Action.Against), ["reason"] = r.Action.Reason,
                })]),
            };
        }
    }

    /// <summary>Records a fault the engine handled (<c>"event":"fault"</c>); summary.json lists them too.</summary>
    public void OnFault(FaultReport report)
    {
        lock (_faults) _faults.Add(report);
        // A coordinator that continues a run from the state store (a standby that took over) starts at the stored
        // round, which it learns only now: this process's rounds count from there.
        if (report is { Event: "resumed" } && _lastRound is null) _startRound = report.Round;
        WriteMetrics(new JsonObject
        {
            ["event"] = "fault",
            ["round"] = report.Round,
            ["time"] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["entity"] = report.Entity,
            ["fault"] = report.Event,
            ["detail"] = report.Detail,
        }.ToJsonString());
    }

    // Evaluations and evolutions arrive on the engine's thread, control commands on the control host's.
    private void WriteMetrics(string line)
    {
        lock (_metrics) _metrics.WriteLine(line);
    }

    public void OnCheckpoint(long round, string path) => LastCheckpoint = path;

    /// <summary>Writes summary.json (schema in docs/training.md, "Outputs") and returns it.</summary>
    public JsonObject WriteSummary(long rounds, bool completed)
    {
        var m = LastEvaluation?.Mixture;
        var image = LastEvaluation?.Image;
        var summary = new JsonObject
        {
            ["schema"] = "akkagan.summary/1",
            ["engine"] = _engine,
            ["dataset"] = SettingsJson.Options.PropertyNamingPolicy!.ConvertName(_settings.Dataset.ToString()),
            ["completed"] = completed,
            ["rounds"] = rounds,
            ["rounds_this_run"] = rounds - _startRound,
            ["wall_seconds"] = Math.Round(_clock.Elapsed.TotalSeconds, 3),
            ["rounds_per_second"] = Math.Round(RoundsPerSecond, 3),
            ["modes"] = m?.Modes ?? image?.Modes,
            ["modes_captured"] = m?.ModesCaptured,
            ["high_quality_fraction"] = m?.HighQualityFraction,
            ["reverse_kl"] = m?.ReverseKl,
            ["modes_covered"] = image?.ModesCovered,
            ["kl_to_uniform"] = image?.KlToUniform,
            ["fcd"] = Finite(image?.Fcd),
            ["sliced_wasserstein"] = LastEvaluation?.Distance?.SlicedWasserstein,
            ["mmd"] = LastEvaluation?.Distance?.Mmd,
            ["precision"] = LastEvaluation?.Fidelity?.Precision,
            ["recall"] = LastEvaluation?.Fidelity?.Recall,
            ["density"] = LastEvaluation?.Fidelity?.Density,
            ["coverage"] = LastEvaluation?.Fidelity?.Coverage,
            ["eval_samples"] = LastEvaluation?.SampleCount,
            ["generator_loss"] = _lastRound?.GeneratorLoss,
            ["discriminator_loss"] = _lastRound?.MeanDiscriminatorLoss,
            ["evolutions"] = _evolutions,
            ["faults"] = FaultsJson(),
            ["health"] = HealthJson(),
            ["rss_mb"] = Math.Round(Environment.WorkingSet / 1048576.0, 1),
            ["last_checkpoint"] = LastCheckpoint is null ? null : Path.GetRelativePath(Directory, LastCheckpoint),
            ["last_samples_png"] = LastSamplePng is null ? null : Path.GetRelativePath(Directory, LastSamplePng),
            ["settings"] = JsonNode.Parse(SettingsJson.Serialize(_settings)),
        };
        File.WriteAllText(Path.Combine(Directory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return summary;
    }

    // JSON has no NaN: an FCD that could not be computed (fewer than 2 samples) is null.
    private static double? Finite(double? value) => value is { } v && double.IsFinite(v) ? v : null;

    public void Dispose()
    {
        _metrics.Dispose();
    }
}
