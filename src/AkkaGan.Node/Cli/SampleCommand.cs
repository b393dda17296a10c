using System.CommandLine;
using System.Globalization;
using System.Text;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using AkkaGan.Node.Output;
using static TorchSharp.torch;

namespace AkkaGan.Node.Cli;

/// <summary>
/// <c>akkagan sample</c> and <c>akkagan export</c>: a saved generator's samples as a file (PNG, CSV, NPY), and its
/// weights with a PyTorch module to use it outside AkkaGan.
/// </summary>
public static class SampleCommand
{
    /// <summary>The sample file formats by extension.</summary>
    public static readonly IReadOnlyList<string> Formats = [".png", ".csv", ".npy"];

    public static Command Create()
    {
        var command = new Command("sample",
            "Draw samples from a saved generator into a file: .png (a scatter over the data's modes, or an image grid), .csv (one sample a row) or " +
            ".npy (float32, shape N x sample shape). The same checkpoint, count and seed give the same file.");
        var checkpoint = CheckpointOption();
        var count = new Option<int>("--count", "-n") { Description = "Samples to draw", HelpName = "N", DefaultValueFactory = _ => 1000 };
        var output = new Option<string>("--out") { Description = "The file to write (.png, .csv or .npy)", HelpName = "FILE", Required = true };
        var seed = new Option<long?>("--seed") { Description = "Seed of the noise (default: the run's, so the samples are its evaluation samples)", HelpName = "S" };
        var latent = new Option<string?>("--latent")
        {
            Description = "Use this noise instead of drawing it: a .npy of shape (N, latent dim), float32 or float64 (-n and --seed are then not used)",
            HelpName = "FILE",
        };
        command.Options.Add(checkpoint);
        command.Options.Add(count);
        command.Options.Add(output);
        command.Options.Add(seed);
        command.Options.Add(latent);
        var rejection = RejectionEvaluation.Options("Keep only the samples that discriminator rejection sampling accepts");
        rejection.AddTo(command);
        command.SetAction(parse => Sample(parse.GetValue(checkpoint)!, parse.GetValue(count), parse.GetValue(output)!, parse.GetValue(seed), parse.GetValue(latent),
            parse.GetResult(count) is { Implicit: false } || parse.GetResult(seed) is { Implicit: false },
            rejection.Read(parse)));
        return command;
    }

    public static Command CreateExport()
    {
        var command = new Command("export",
            "Write a saved generator for PyTorch: its weights as a state dict (.safetensors or .pt) and, beside them, a Python module of the same " +
            "name with the network, load() and sample(model, n).");
        var checkpoint = CheckpointOption();
        var output = new Option<string>("--out") { Description = "The weights file to write (.safetensors or .pt); the module goes beside it as .py", HelpName = "FILE", Required = true };
        command.Options.Add(checkpoint);
        command.Options.Add(output);
        command.SetAction(parse => Export(parse.GetValue(checkpoint)!, parse.GetValue(output)!));
        return command;
    }

    private static Option<string> CheckpointOption()
        => new("--checkpoint") { Description = "Checkpoint file, checkpoints folder or run folder (newest checkpoint)", HelpName = "PATH", Required = true };

    /// <summary>The checkpoint's generator, restored on the CPU, with the run's settings.</summary>
    private static (GeneratorCore Generator, TrainingSettings Settings, CheckpointMetadata Metadata) Load(string checkpointPath, long? seed = null)
    {
        var (_, checkpoint) = CheckpointStore.Resolve(checkpointPath);
        var settings = SettingsJson.Deserialize(checkpoint.Metadata.SettingsJson);
        if (seed is { } s) settings = settings with { Seed = s };
        var generator = new GeneratorCore(settings, RunData.SampleShape(settings), CPU);
        try
        {
            generator.Restore(checkpoint.Entity(GeneratorCore.EntityId));
        }
        catch
        {
            generator.Dispose();
            throw;
        }
        return (generator, settings, checkpoint.Metadata);
    }

    private static int Sample(string checkpointPath, int count, string output, long? seed, string? latentFile, bool drawFlagsGiven, RejectionRequest? request = null)
    {
        var extension = Path.GetExtension(output).ToLowerInvariant();
        if (!Formats.Contains(extension)) throw new SettingsException($"--out: {output} must end in {string.Join(", ", Formats)}");
        if (latentFile is null && count < 1) throw new SettingsException($"-n: {count} (at least 1)");
        if (latentFile is not null && drawFlagsGiven) throw new SettingsException("--latent: the noise comes from the file; -n and --seed are for drawing it");
        request ??= RejectionRequest.Off;
        var rejection = request.On;
        if (latentFile is not null && rejection) throw new SettingsException("--latent: rejection sampling draws its own candidates; give --latent or --rejection-sampling, not both");
        if (request.Steps is < 1) throw new SettingsException($"--rejection-steps: {request.Steps} (at least 1)");
        if (request.Percentile is { } p && !(p > 0 && p < 100)) throw new SettingsException($"--rejection-percentile: {p} (between 0 and 100, both excluded)");
        var (generator, settings, metadata) = Load(checkpointPath, seed);
        using (generator)
        {
            using var scope = NewDisposeScope();
            Tensor samples;
            if (rejection)
            {
                settings = request.Apply(settings);
                set_num_threads(RunData.TorchThreads(settings));
                var data = RunData.Create(settings, Console.Error.WriteLine);
                try
                {
                    samples = RejectionEvaluation.Draw(settings, data, CheckpointStore.Resolve(checkpointPath).Checkpoint, count, Console.Error.WriteLine).Samples;
                }
                finally
                {
                    (data as IDisposable)?.Dispose();
                }
            }
            else if (latentFile is null) samples = generator.Sample(count);
            else
            {
                var (values, shape) = NpyFile.Read(latentFile);
                if (shape.Length != 2 || shape[1] != settings.LatentDim || shape[0] < 1)
                    throw new DatasetException($"{latentFile}: the noise must have shape (N, {settings.LatentDim}), N >= 1; it has ({string.Join(", ", shape)})");
                samples = generator.Generate(tensor(values, shape));
            }
            var n = (int)samples.shape[0];
            var flat = samples.contiguous().data<float>().ToArray();
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            switch (extension)
            {
                case ".npy":
                    NpyFile.Write(output, flat, [n, .. generator.SampleShape]);
                    break;
                case ".csv":
                    WriteCsv(output, flat, n);
                    break;
                default:
                    if (!Plots.CanDraw(generator.SampleShape))
                        throw new SettingsException($"--out: a .png shows 2-D points or images; these samples are {string.Join("x", generator.SampleShape)} (write .csv or .npy)");
                    Plots.Samples(output, flat, n, generator.SampleShape, GaussianMixture.For(settings), null,
                        string.Create(CultureInfo.InvariantCulture, $"{SettingValues.Kebab(settings.Dataset)}, checkpoint round {metadata.Round}, {n} samples{(rejection ? ", rejection sampling" : "")}"), gridColumns: Math.Min(16, n));
                    break;
            }
            Console.WriteLine($"wrote {n} samples of round {metadata.Round} to {output}");
        }
        return 0;
    }

    /// <summary>One sample a row, its values (pixels flattened in C order for images) comma-separated, invariant culture, round-trip precision.</summary>
    private static void WriteCsv(string path, float[] flat, int count)
    {
        var width = flat.Length / count;
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        for (var i = 0; i < count; i++)
            writer.WriteLine(string.Join(",", Enumerable.Range(0, width).Select(j => flat[i * width + j].ToString("R", CultureInfo.InvariantCulture))));
    }

    private static int Export(string checkpointPath, string output)
    {
        if (!GeneratorExport.Formats.Contains(Path.GetExtension(output).ToLowerInvariant()))
            throw new SettingsException($"--out: {output} must end in {string.Join(" or ", GeneratorExport.Formats)} (the weights' format)");
        var (generator, settings, metadata) = Load(checkpointPath);
        using (generator)
        {
            var module = GeneratorExport.Write(generator, settings, metadata, output);
            Console.WriteLine($"wrote {output} (the generator of round {metadata.Round}) and {module}");
            Console.WriteLine($"in Python: import {Path.GetFileNameWithoutExtension(module)} as g; model = g.load(); x = g.sample(model, 16)");
        }
        return 0;
    }
}
