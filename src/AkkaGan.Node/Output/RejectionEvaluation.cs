using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Data;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Node.Output;

/// <summary>
/// A checkpoint's generator through discriminator rejection sampling (<see cref="RejectionSampler"/>): the run's
/// evaluation metrics on the accepted samples, what the sampling took, and a picture. The end of a training run with
/// <c>rejection-sampling</c> on (into summary.json), <c>akkagan eval --rejection-sampling</c> and <c>akkagan sample
/// --rejection-sampling</c> share it. It runs on the process that holds the final checkpoint, so both engines get the
/// same samples from the same generator.
/// </summary>
internal static class RejectionEvaluation
{
    /// <summary>The <c>--rejection-sampling</c>, <c>--rejection-steps</c> and <c>--rejection-percentile</c> options of a command that reads a checkpoint; <paramref name="what"/> says what it does with the kept samples.</summary>
    public static RejectionOptions Options(string what) => new(what);

    /// <summary>
    /// <paramref name="count"/> samples of <paramref name="checkpoint"/>'s generator that a discriminator fitted to it
    /// (<paramref name="settings"/>' rejection-steps) accepts, with the sampler's report; progress goes to <paramref name="log"/>.
    /// </summary>
    public static RejectionResult Draw(TrainingSettings settings, IRealData data, Checkpoint checkpoint, int count, Action<string> log)
    {
        using var generator = new GeneratorCore(settings, RunData.SampleShape(settings), RunData.ResolveDevice(settings.Device));
        generator.Restore(checkpoint.Entity(GeneratorCore.EntityId));
        log(string.Create(CultureInfo.InvariantCulture,
            $"rejection sampling: fitting a discriminator to the generator of round {checkpoint.Metadata.Round} ({settings.RejectionSteps} steps, percentile {settings.RejectionPercentile})"));
        var quarter = Math.Max(1, settings.RejectionSteps / 4);
        var clock = Stopwatch.StartNew();
        var result = RejectionSampler.Draw(settings, data, generator, count, step =>
        {
            if (step % quarter == 0 && step < settings.RejectionSteps)
                log(string.Create(CultureInfo.InvariantCulture, $"rejection sampling: {step}/{settings.RejectionSteps} steps ({clock.Elapsed.TotalSeconds:F0} s)"));
        });
        log(string.Create(CultureInfo.InvariantCulture,
            $"rejection sampling: {count} samples accepted of {result.Candidates} candidates (acceptance {result.AcceptanceRate:F3}, {clock.Elapsed.TotalSeconds:F1} s)"));
        return result;
    }

    /// <summary>
    /// The metrics of <paramref name="checkpoint"/>'s generator under rejection sampling, as a JSON object: every metric
    /// the run's evaluation has (named as in summary.json), the round, the candidates, the acceptance rate and the
    /// seconds; <paramref name="png"/> (when the samples can be drawn) shows them.
    /// </summary>
    public static JsonObject Evaluate(TrainingSettings settings, IRealData data, Checkpoint checkpoint, string? png, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        var result = Draw(settings, data, checkpoint, settings.EvalSamples, log);
        using var samples = result.Samples;
        using var metrics = EvaluationMetrics.Create(settings, data, log);
        var json = new JsonObject
        {
            ["round"] = checkpoint.Metadata.Round,
            ["steps"] = settings.RejectionSteps,
            ["percentile"] = settings.RejectionPercentile,
            ["candidates"] = result.Candidates,
            ["acceptance_rate"] = Math.Round(result.AcceptanceRate, 4),
        };
        AddMetrics(json, metrics.Compute(samples));
        json["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
        var shape = RunData.SampleShape(settings);
        if (png is not null && Plots.CanDraw(shape))
        {
            var mixture = GaussianMixture.For(settings);
            float[]? real = null;
            if (data is PointCloud { Dimension: 2 } points)
            {
                using var held = points.HeldOut;
                real = held.data<float>().ToArray();
            }
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(png))!);
            Plots.Samples(png, samples.contiguous().data<float>().ToArray(), settings.EvalSamples, shape, mixture, real,
                string.Create(CultureInfo.InvariantCulture, $"{mixture?.Name ?? SettingValues.Kebab(settings.Dataset)}, round {checkpoint.Metadata.Round}, rejection sampling"));
            json["samples_png"] = png;
        }
        return json;
    }

    /// <summary>Adds the evaluation's metrics to <paramref name="json"/> under summary.json's names (those it lacks are left out).</summary>
    public static void AddMetrics(JsonObject json, EvaluationMetrics.Result computed)
    {
        if (computed.Mixture is { } m)
        {
            json["modes"] = m.Modes;
            json["modes_captured"] = m.ModesCaptured;
            json["high_quality_fraction"] = m.HighQualityFraction;
            json["reverse_kl"] = m.ReverseKl;
        }
        if (computed.Image is { } image)
        {
            json["modes"] = image.Modes;
            json["modes_covered"] = image.ModesCovered;
            json["kl_to_uniform"] = image.KlToUniform;
            json["fcd"] = double.IsFinite(image.Fcd) ? image.Fcd : null;
            json["mode_counts"] = new JsonArray([.. image.ModeCounts.Select(c => (JsonNode)c)]);
        }
        if (computed.Distance is { } distance)
        {
            json["sliced_wasserstein"] = distance.SlicedWasserstein;
            if (distance.Mmd is { } mmd) json["mmd"] = mmd;
        }
        if (computed.Fidelity is { } fidelity)
        {
            json["precision"] = fidelity.Precision;
            json["recall"] = fidelity.Recall;
            json["density"] = fidelity.Density;
            json["coverage"] = fidelity.Coverage;
        }
    }

    /// <summary>
    /// The end of a run with rejection-sampling on: the final checkpoint's generator evaluated under rejection sampling
    /// into <paramref name="summary"/>'s <c>rejection_sampling</c> (an <c>error</c> there when it could not be done:
    /// the run's own results stand either way), and summary.json rewritten.
    /// </summary>
    public static void AddToSummary(JsonObject summary, string outDir, TrainingSettings settings, IRealData data, string checkpointPath, Action<string> log)
    {
        JsonObject result;
        try
        {
            var checkpoint = CheckpointStore.Load(checkpointPath);
            result = Evaluate(settings, data, checkpoint,
                Path.Combine(outDir, "samples", $"rejection-round-{checkpoint.Metadata.Round:D6}.png"), log);
            if (result["samples_png"] is JsonValue png) result["samples_png"] = Path.GetRelativePath(outDir, png.GetValue<string>());
        }
        catch (Exception e) when (e is InvalidOperationException or CheckpointException or IOException or System.Runtime.InteropServices.ExternalException)
        {
            Console.Error.WriteLine($"akkagan: warning: rejection sampling failed: {e.Message}");
            result = new JsonObject { ["error"] = e.Message };
        }
        summary["rejection_sampling"] = result;
        File.WriteAllText(Path.Combine(outDir, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}

/// <summary>
/// The rejection-sampling options of <c>akkagan eval</c> and <c>akkagan sample</c>: <c>--rejection-sampling</c>, and
/// <c>--rejection-steps</c> and <c>--rejection-percentile</c>, which override the run's settings and imply it.
/// </summary>
internal sealed class RejectionOptions
{
    private readonly Option<bool> _enabled;
    private readonly Option<int?> _steps;
    private readonly Option<double?> _percentile;

    public RejectionOptions(string what)
    {
        _enabled = new Option<bool>("--rejection-sampling")
        {
            Description = $"{what}: a discriminator is fitted to the generator first (the run's rejection-steps and rejection-percentile unless given)",
        };
        _steps = new Option<int?>("--rejection-steps") { Description = "Steps that fit the rejection-sampling discriminator (default: the run's rejection-steps; implies --rejection-sampling)", HelpName = "N" };
        _percentile = new Option<double?>("--rejection-percentile")
        {
            Description = "Percentile of the burn-in's acceptance scores kept with probability 1/2 (default: the run's rejection-percentile; implies --rejection-sampling)",
            HelpName = "P",
        };
    }

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(_enabled);
        command.Options.Add(_steps);
        command.Options.Add(_percentile);
    }

    /// <summary>What <paramref name="parse"/> asks for.</summary>
    public RejectionRequest Read(ParseResult parse)
    {
        var steps = parse.GetValue(_steps);
        var percentile = parse.GetValue(_percentile);
        return new RejectionRequest(parse.GetValue(_enabled) || steps is not null || percentile is not null, steps, percentile);
    }
}

/// <summary>Whether a command evaluates or samples through rejection sampling, and the run settings it overrides.</summary>
internal sealed record RejectionRequest(bool On, int? Steps = null, double? Percentile = null)
{
    /// <summary>No rejection sampling.</summary>
    public static readonly RejectionRequest Off = new(false);

    /// <summary><paramref name="settings"/> with the given overrides (validated by the caller).</summary>
    public TrainingSettings Apply(TrainingSettings settings)
        => settings with { RejectionSteps = Steps ?? settings.RejectionSteps, RejectionPercentile = Percentile ?? settings.RejectionPercentile };
}
