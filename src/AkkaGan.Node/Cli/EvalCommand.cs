using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Data;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Metrics;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using AkkaGan.Node.Output;
using static TorchSharp.torch;

namespace AkkaGan.Node.Cli;

/// <summary><c>akkagan eval</c>: recomputes the metrics of a saved generator.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var command = new Command("eval", "Recompute the metrics of a saved generator (and plot its samples).");
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint file, checkpoints folder or run folder (newest checkpoint)", HelpName = "PATH", Required = true };
        var samples = new Option<int?>("--samples") { Description = "Samples to draw (default: the run's eval-samples, 2500)", HelpName = "N" };
        var output = new Option<string?>("--out") { Description = "Folder for eval.json and eval.png (default: print only)", HelpName = "DIR" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Override the dataset (or image) folder recorded in the checkpoint", HelpName = "DIR" };
        var dataFile = new Option<string?>("--data-file") { Description = "Override the points file recorded in the checkpoint (dataset=points)", HelpName = "FILE" };
        command.Options.Add(checkpoint);
        command.Options.Add(samples);
        command.Options.Add(output);
        command.Options.Add(dataDir);
        command.Options.Add(dataFile);
        command.SetAction(parse => Run(parse.GetValue(checkpoint)!, parse.GetValue(samples), parse.GetValue(output), parse.GetValue(dataDir), parse.GetValue(dataFile)));
        return command;
    }

    private static int Run(string checkpointPath, int? samples, string? output, string? dataDir, string? dataFile)
    {
        var (path, checkpoint) = CheckpointStore.Resolve(checkpointPath);
        var settings = SettingsJson.Deserialize(checkpoint.Metadata.SettingsJson);
        if (dataDir is not null) settings = settings with { DataDir = dataDir };
        if (dataFile is not null) settings = settings with { DataFile = dataFile };
        if (samples is { } n) settings = settings with { EvalSamples = n };
        settings.Validate();
        var mixture = GaussianMixture.For(settings);
        var shape = RunData.SampleShape(settings);
        using var generator = new GeneratorCore(settings, shape, CPU);
        generator.Restore(checkpoint.Entity(GeneratorCore.EntityId));
        using var sample = generator.Sample(settings.EvalSamples);
        var flat = sample.contiguous().data<float>().ToArray();
        // Images: the classifier metrics (the classifier is loaded from its cache, or trained once first); the
        // user's data: the distances to its held-out samples.
        ImageMetrics? image = null;
        Core.Metrics.DistributionDistance? distances = null;
        float[]? real = null;
        if (mixture is null)
        {
            var data = RunData.Create(settings, Console.Error.WriteLine);
            try
            {
                using var metrics = EvaluationMetrics.Create(settings, data, Console.Error.WriteLine);
                var computed = metrics.Compute(sample);
                (image, distances) = (computed.Image, computed.Distance);
                if (data is PointCloud { Dimension: 2 } points)
                {
                    using var held = points.HeldOut;
                    real = held.data<float>().ToArray();
                }
            }
            finally
            {
                (data as IDisposable)?.Dispose();
            }
        }

        var result = new JsonObject
        {
            ["checkpoint"] = Path.GetFullPath(path),
            ["round"] = checkpoint.Metadata.Round,
            ["samples"] = settings.EvalSamples,
        };
        if (mixture is not null)
        {
            var points = Enumerable.Range(0, settings.EvalSamples).Select(i => ((double)flat[2 * i], (double)flat[2 * i + 1])).ToArray();
            var m = MixtureMetrics.Compute(points, mixture.Centres, mixture.Std);
            result["modes"] = m.Modes;
            result["modes_captured"] = m.ModesCaptured;
            result["high_quality_fraction"] = m.HighQualityFraction;
            result["reverse_kl"] = m.ReverseKl;
            using var metrics = EvaluationMetrics.Create(settings, mixture);
            if (metrics.Compute(sample).Distance is { } distance)
            {
                result["sliced_wasserstein"] = distance.SlicedWasserstein;
                result["mmd"] = distance.Mmd;
            }
        }
        if (image is not null)
        {
            result["modes"] = image.Modes;
            result["modes_covered"] = image.ModesCovered;
            result["kl_to_uniform"] = image.KlToUniform;
            result["fcd"] = double.IsFinite(image.Fcd) ? image.Fcd : null;
            result["mode_counts"] = new JsonArray([.. image.ModeCounts.Select(c => (JsonNode)c)]);
            result["sliced_wasserstein"] = distances?.SlicedWasserstein;
        }
        else if (distances is not null)
        {
            result["sliced_wasserstein"] = distances.SlicedWasserstein;
            result["mmd"] = distances.Mmd;
        }
        Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (output is not null)
        {
            Directory.CreateDirectory(output);
            File.WriteAllText(Path.Combine(output, "eval.json"), result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            var png = Path.Combine(output, "eval.png");
            if (Plots.CanDraw(shape))
            {
                Plots.Samples(png, flat, settings.EvalSamples, shape, mixture, real,
                    string.Create(CultureInfo.InvariantCulture, $"{mixture?.Name ?? SettingValues.Kebab(settings.Dataset)}, checkpoint round {checkpoint.Metadata.Round}"));
                Console.WriteLine($"wrote {png}");
            }
        }
        return 0;
    }
}
