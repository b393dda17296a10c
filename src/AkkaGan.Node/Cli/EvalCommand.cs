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
        var rejection = RejectionEvaluation.Options("Evaluate the samples that discriminator rejection sampling keeps");
        rejection.AddTo(command);
        command.SetAction(parse => Run(parse.GetValue(checkpoint)!, parse.GetValue(samples), parse.GetValue(output), parse.GetValue(dataDir), parse.GetValue(dataFile),
            rejection.Read(parse)));
        return command;
    }

    private static int Run(string checkpointPath, int? samples, string? output, string? dataDir, string? dataFile, RejectionRequest request)
    {
        var (path, checkpoint) = CheckpointStore.Resolve(checkpointPath);
        var settings = SettingsJson.Deserialize(checkpoint.Metadata.SettingsJson);
        if (dataDir is not null) settings = settings with { DataDir = dataDir };
        if (dataFile is not null) settings = settings with { DataFile = dataFile };
        if (samples is { } n) settings = settings with { EvalSamples = n };
        settings = request.Apply(settings);
        settings.Validate();
        var rejection = request.On;
        set_num_threads(RunData.TorchThreads(settings));
        var mixture = GaussianMixture.For(settings);
        var shape = RunData.SampleShape(settings);
        // The run's evaluation metrics, as training computes them: the mixture's modes, the classifier's (Fashion-MNIST;
        // the classifier is loaded from its cache, or trained once first), and for any data the distances and
        // precision/recall/density/coverage against real samples (a user's: the held-out ones).
        var data = RunData.Create(settings, Console.Error.WriteLine);
        EvaluationMetrics.Result computed;
        float[]? real = null;
        RejectionResult? drawn = null;
        Tensor sample;
        if (rejection)
        {
            drawn = RejectionEvaluation.Draw(settings, data, checkpoint, settings.EvalSamples, Console.Error.WriteLine);
            sample = drawn.Samples;
        }
        else
        {
            using var generator = new GeneratorCore(settings, shape, CPU);
            generator.Restore(checkpoint.Entity(GeneratorCore.EntityId));
            sample = generator.Sample(settings.EvalSamples);
        }
        using var disposeSample = sample;
        var flat = sample.contiguous().data<float>().ToArray();
        try
        {
            using var metrics = EvaluationMetrics.Create(settings, data, Console.Error.WriteLine);
            computed = metrics.Compute(sample);
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

        var result = new JsonObject
        {
            ["checkpoint"] = Path.GetFullPath(path),
            ["round"] = checkpoint.Metadata.Round,
            ["samples"] = settings.EvalSamples,
        };
        if (drawn is not null)
        {
            result["rejection_steps"] = settings.RejectionSteps;
            result["rejection_percentile"] = settings.RejectionPercentile;
            result["candidates"] = drawn.Candidates;
            result["acceptance_rate"] = Math.Round(drawn.AcceptanceRate, 4);
        }
        RejectionEvaluation.AddMetrics(result, computed);
        Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (output is not null)
        {
            Directory.CreateDirectory(output);
            File.WriteAllText(Path.Combine(output, "eval.json"), result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            var png = Path.Combine(output, "eval.png");
            if (Plots.CanDraw(shape))
            {
                Plots.Samples(png, flat, settings.EvalSamples, shape, mixture, real,
                    string.Create(CultureInfo.InvariantCulture, $"{mixture?.Name ?? SettingValues.Kebab(settings.Dataset)}, checkpoint round {checkpoint.Metadata.Round}{(rejection ? ", rejection sampling" : "")}"));
                Console.WriteLine($"wrote {png}");
            }
        }
        return 0;
    }
}
