using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using AkkaGan.Core.Data;

namespace AkkaGan.Integration.Tests;

/// <summary>
/// <c>akkagan sample</c> and <c>akkagan export</c> on a trained ring8 generator: the exported weights, read by an
/// independent reader (Python's standard library, no TorchSharp), give the samples <c>akkagan sample</c> gives for
/// the same noise; samples are reproducible; bad input is refused naming the problem.
/// </summary>
public sealed class ExportSpecs : IClassFixture<ExportSpecs.TrainedRun>
{
    private readonly TrainedRun _run;

    public ExportSpecs(TrainedRun run) => _run = run;

    /// <summary>One short ring8 run every spec here reads, and a folder for what they write.</summary>
    public sealed class TrainedRun : IDisposable
    {
        public string Dir { get; } = Directory.CreateTempSubdirectory("akkagan-export-it-").FullName;

        public string Run => Path.Combine(Dir, "run");

        public TrainedRun()
        {
            var result = Akkagan.Run(["train", "--engine", "reference", "--rounds", "40", "--batch", "64", "--unroll", "0", "--eval-every", "40", "--latent-dim", "16",
                "--control-port", "0", "--out", Run]);
            Assert.True(result.ExitCode == 0, result.All);
        }

        public void Dispose()
        {
            try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
        }
    }

    private string Out(string name) => Path.Combine(_run.Dir, name);

    [Fact]
    [Trait("Category", "Slow")]
    public void The_exported_weights_should_give_akkagan_samples_for_the_same_noise_in_an_independent_reader()
    {
        var weights = Out("export/generator.safetensors");
        var export = Akkagan.Run(["export", "--checkpoint", _run.Run, "--out", weights]);
        Assert.True(export.ExitCode == 0, export.All);
        Assert.Contains("in Python: import generator as g", export.Stdout);
        var module = Out("export/generator.py");
        Assert.True(File.Exists(module), export.All);

        // Noise of our own (not AkkaGan's generator), through akkagan sample and through the reader.
        var random = new Random(7);
        const int count = 24, latent = 16;
        var z = Enumerable.Range(0, count * latent).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();
        NpyFile.Write(Out("z.npy"), z, [count, latent]);
        var sampled = Akkagan.Run(["sample", "--checkpoint", _run.Run, "--latent", Out("z.npy"), "--out", Out("x.npy")]);
        Assert.True(sampled.ExitCode == 0, sampled.All);
        var check = Python(Path.Combine(Akkagan.RepositoryRoot, "tests", "AkkaGan.Integration.Tests", "check_export.py"), weights, Out("z.npy"), Out("x.npy"), "1e-4");
        Assert.True(check.Code == 0, check.Output);
        Assert.Contains($"{count} samples", check.Output);

        // The module is valid Python (PyTorch itself is not installed here), builds the network the weights belong to
        // (names and shapes, under a stand-in torch), and names the weights beside it.
        var compiled = Python("-m", "py_compile", module);
        Assert.True(compiled.Code == 0, compiled.Output);
        var fits = Python(Path.Combine(Akkagan.RepositoryRoot, "tests", "AkkaGan.Integration.Tests", "check_module.py"), module, weights);
        Assert.True(fits.Code == 0, fits.Output);
        Assert.Contains("\"generator.safetensors\"", File.ReadAllText(module));
        Assert.Contains("LATENT_DIM = 16", File.ReadAllText(module));

        // The .pt is PyTorch's zip format with its pickled state dict.
        var pt = Out("export/generator.pt");
        Assert.Equal(0, Akkagan.Run(["export", "--checkpoint", _run.Run, "--out", pt]).ExitCode);
        using var zip = ZipFile.OpenRead(pt);
        Assert.Contains(zip.Entries, e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal));
    }

    [Fact]
    public void Samples_should_be_reproducible_by_seed_in_every_format()
    {
        string Draw(string name, string seed)
        {
            var result = Akkagan.Run(["sample", "--checkpoint", _run.Run, "-n", "300", "--seed", seed, "--out", Out(name)]);
            Assert.True(result.ExitCode == 0, result.All);
            return Out(name);
        }
        var first = File.ReadAllBytes(Draw("a.npy", "3"));
        Assert.Equal(first, File.ReadAllBytes(Draw("b.npy", "3")));
        Assert.NotEqual(first, File.ReadAllBytes(Draw("c.npy", "4")));
        var (values, shape) = NpyFile.Read(Out("a.npy"));
        Assert.Equal([300L, 2], shape);
        var rows = File.ReadAllLines(Draw("a.csv", "3"));
        Assert.Equal(300, rows.Length);
        Assert.Equal(values[0], float.Parse(rows[0].Split(',')[0], CultureInfo.InvariantCulture));
        Assert.True(new FileInfo(Draw("a.png", "3")).Length > 1000);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Bad_input_should_be_refused_naming_the_problem()
    {
        static void Refused(string[] args, string message)
        {
            var result = Akkagan.Run(args);
            Assert.True(result.ExitCode == 2, result.All);
            Assert.Contains(message, result.Stderr);
        }
        Refused(["sample", "--checkpoint", _run.Run, "--out", Out("x.txt")], "must end in .png, .csv, .npy");
        Refused(["sample", "--checkpoint", _run.Run, "-n", "0", "--out", Out("x.npy")], "-n: 0 (at least 1)");
        NpyFile.Write(Out("wrong.npy"), new float[6], [2, 3]);
        Refused(["sample", "--checkpoint", _run.Run, "--latent", Out("wrong.npy"), "--out", Out("x.npy")], "the noise must have shape (N, 16), N >= 1; it has (2, 3)");
        Refused(["sample", "--checkpoint", _run.Run, "--latent", Out("wrong.npy"), "-n", "5", "--out", Out("x.npy")], "--latent: the noise comes from the file");
        File.WriteAllText(Out("text.npy"), "not numpy");
        Refused(["sample", "--checkpoint", _run.Run, "--latent", Out("text.npy"), "--out", Out("x.npy")], "not a .npy file");
        Refused(["export", "--checkpoint", _run.Run, "--out", Out("g.onnx")], "must end in .safetensors or .pt");
        Refused(["export", "--checkpoint", Out("none"), "--out", Out("g.pt")], Out("none"));
    }

    internal static (int Code, string Output) Python(params string[] args)
    {
        var python = Environment.GetEnvironmentVariable("AKKAGAN_PYTHON") is { Length: > 0 } named ? named : "python3";
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr);
    }
}
