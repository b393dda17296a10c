using System.CommandLine;
using System.Globalization;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using SkiaSharp;
using static TorchSharp.torch;

namespace AkkaGan.Node.Cli;

/// <summary>
/// <c>akkagan dataset write</c>: writes a built-in dataset in the formats <c>--dataset images</c> and
/// <c>--dataset points</c> read, so a user can see the expected layout, try the file paths on known data, and compare
/// a run on the files with a run on the built-in dataset.
/// </summary>
public static class DatasetCommand
{
    /// <summary>Fashion-MNIST's class names, in label order, as folder names.</summary>
    public static readonly IReadOnlyList<string> FashionClasses =
        ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"];

    public static Command Create()
    {
        var command = new Command("dataset", "Built-in datasets as files: image folders and points files that --dataset images and --dataset points read.");
        var write = new Command("write",
            "Write a built-in dataset: fashion-mnist or stacked-fashion-mnist as a folder of PNGs (one subfolder per class for " +
            "fashion-mnist), ring8, grid25 or spiral as a .csv or .npy file of points.");
        var dataset = new Option<string>("--dataset") { Description = "ring8 | grid25 | spiral | fashion-mnist | stacked-fashion-mnist", HelpName = "NAME", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for images; .csv or .npy file for points", HelpName = "PATH", Required = true };
        var count = new Option<int?>("-n", "--count") { Description = "How many (default: every training image; 10000 points)", HelpName = "N" };
        var dataDir = new Option<string>("--data-dir") { Description = "Folder with the Fashion-MNIST IDX files", HelpName = "DIR", DefaultValueFactory = _ => FashionMnist.DefaultDirectory };
        var seed = new Option<long>("--seed") { Description = "Seed of the points drawn (mixtures) or the images stacked (stacked-fashion-mnist)", HelpName = "S", DefaultValueFactory = _ => 1 };
        write.Options.Add(dataset);
        write.Options.Add(output);
        write.Options.Add(count);
        write.Options.Add(dataDir);
        write.Options.Add(seed);
        write.SetAction(parse => Write(parse.GetValue(dataset)!, parse.GetValue(output)!, parse.GetValue(count), parse.GetValue(dataDir)!, parse.GetValue(seed)));
        command.Subcommands.Add(write);
        return command;
    }

    private static int Write(string datasetName, string output, int? count, string dataDir, long seed)
    {
        var settings = SettingKeys.Apply(SettingKeys.All.First(k => k.Path == "train.dataset"), new TrainingSettings(), datasetName, "--dataset") with { DataDir = dataDir, Seed = seed };
        if (count is < 1) throw new SettingsException($"-n: {count} (at least 1)");
        if (settings.Dataset is DatasetKind.Points or DatasetKind.Images)
            throw new SettingsException($"--dataset: {datasetName} is already files; write a built-in dataset (ring8, grid25, spiral, fashion-mnist, stacked-fashion-mnist)");
        return settings.IsToyData ? WritePoints(settings, output, count ?? 10_000) : WriteImages(settings, output, count);
    }

    private static int WritePoints(TrainingSettings settings, string output, int count)
    {
        var extension = Path.GetExtension(output).ToLowerInvariant();
        if (extension is not (".csv" or ".npy")) throw new SettingsException($"--out {output}: points are written as .csv or .npy");
        var mixture = GaussianMixture.For(settings)!;
        using var scope = NewDisposeScope();
        using var generator = new TorchSharp.torch.Generator((ulong)settings.Seed, CPU);
        var flat = mixture.Sample(count, generator).contiguous().data<float>().ToArray();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        if (extension == ".npy") NpyFile.Write(output, flat, [count, 2]);
        else
        {
            using var writer = new StreamWriter(output);
            writer.WriteLine("x,y");
            for (var i = 0; i < count; i++)
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{flat[2 * i]:R},{flat[2 * i + 1]:R}"));
        }
        Console.WriteLine($"wrote {count} points of {mixture.Name} to {output}");
        return 0;
    }

    private static int WriteImages(TrainingSettings settings, string output, int? count)
    {
        if (File.Exists(output)) throw new SettingsException($"--out {output}: images are written into a folder, and this is a file");
        Tensor images;
        long[]? labels = null;
        using var scope = NewDisposeScope();
        if (settings.Dataset == DatasetKind.FashionMnist)
        {
            var fashion = FashionMnist.Load(settings.DataDir, limit: count);
            images = fashion.Images;
            labels = fashion.Labels.data<long>().ToArray();
        }
        else
        {
            var stacked = StackedFashionMnist.Load(settings.DataDir);
            using var generator = new TorchSharp.torch.Generator((ulong)settings.Seed, CPU);
            images = stacked.Sample(count ?? 60_000, generator);
        }
        // [-1, 1] floats back to the bytes they came from.
        var bytes = images.Add(1).Mul(127.5).round().Clamp(0, 255).to_type(ScalarType.Byte).contiguous();
        var (n, c, h, w) = ((int)bytes.shape[0], (int)bytes.shape[1], (int)bytes.shape[2], (int)bytes.shape[3]);
        var pixels = bytes.data<byte>().ToArray();
        foreach (var folder in labels is null ? [""] : FashionClasses) Directory.CreateDirectory(Path.Combine(output, folder));
        var written = 0;
        Parallel.For(0, n, i =>
        {
            var folder = labels is null ? "" : FashionClasses[(int)labels[i]];
            var path = Path.Combine(output, folder, i.ToString("D5", CultureInfo.InvariantCulture) + ".png");
            WritePng(path, pixels.AsSpan(i * c * h * w, c * h * w), c, h, w);
            var done = Interlocked.Increment(ref written);
            if (done % 10_000 == 0) Console.WriteLine($"{done}/{n} written");
        });
        Console.WriteLine($"wrote {n} {SettingValues.Kebab(settings.Dataset)} images ({w}x{h}, {(c == 1 ? "grayscale" : "RGB")}) to {output}" +
                          (labels is null ? "" : ", one folder per class"));
        return 0;
    }

    /// <summary>Planar 1- or 3-channel bytes as a PNG (grayscale, or RGB).</summary>
    private static void WritePng(string path, ReadOnlySpan<byte> planar, int channels, int height, int width)
    {
        var plane = height * width;
        var info = new SKImageInfo(width, height, channels == 1 ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
        var buffer = new byte[channels == 1 ? plane : 4 * plane];
        for (var p = 0; p < plane; p++)
        {
            if (channels == 1)
            {
                buffer[p] = planar[p];
                continue;
            }
            buffer[4 * p] = planar[p];
            buffer[4 * p + 1] = planar[plane + p];
            buffer[4 * p + 2] = planar[2 * plane + p];
            buffer[4 * p + 3] = 255;
        }
        using var bitmap = new SKBitmap(info);
        System.Runtime.InteropServices.Marshal.Copy(buffer, 0, bitmap.GetPixels(), buffer.Length);
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
