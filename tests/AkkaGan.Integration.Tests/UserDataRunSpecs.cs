using System.Text.Json.Nodes;

namespace AkkaGan.Integration.Tests;

/// <summary>
/// A user's data through the command line: <c>akkagan dataset write</c> turns built-in data into files, <c>akkagan
/// train --dataset points|images</c> trains on them with both engines to the same bytes, and <c>eval</c>, <c>sample</c>
/// and <c>export</c> work on the result; bad files and flags are refused naming the problem.
/// </summary>
public sealed class UserDataRunSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-userdata-it-").FullName;

    private string Out(string name) => Path.Combine(_dir, name);

    [Fact]
    [Trait("Category", "Slow")]
    public void A_points_file_should_train_with_both_engines_to_the_same_bytes_and_be_evaluated_and_sampled()
    {
        var write = Akkagan.Run("dataset", "write", "--dataset", "ring8", "-n", "3000", "--out", Out("ring8.csv"));
        Assert.True(write.ExitCode == 0, write.All);
        Assert.StartsWith("x,y\n", File.ReadAllText(Out("ring8.csv")).ReplaceLineEndings("\n"), StringComparison.Ordinal);

        string[] training = ["train", "--dataset", "points", "--data-file", Out("ring8.csv"), "--rounds", "40", "--batch", "64", "--unroll", "0",
            "--eval-every", "20", "--eval-samples", "500", "--checkpoint-every", "20", "--hidden-units", "32", "--control-port", "0"];
        var reference = Akkagan.Run([.. training, "--engine", "reference", "--out", Out("ref")]);
        Assert.True(reference.ExitCode == 0, reference.All);
        var cluster = Akkagan.Run([.. training, "--engine", "cluster", "--out", Out("cluster")]);
        Assert.True(cluster.ExitCode == 0, cluster.All);
        CheckpointComparison.AssertEntitiesEqual(Out("ref"), "reference engine", Out("cluster"), "one-node cluster");

        var summary = JsonNode.Parse(File.ReadAllText(Out("cluster/summary.json")))!;
        Assert.Equal(2, summary["settings"]!["dimension"]!.GetValue<int>());   // resolved from the file, kept with the run
        Assert.True(summary["sliced_wasserstein"]!.GetValue<double>() > 0, summary.ToJsonString());
        Assert.True(summary["mmd"] is not null, summary.ToJsonString());
        Assert.True(File.Exists(Out("cluster/samples/round-000040.png")), "no scatter of the 2-D samples");

        var eval = Akkagan.Run("eval", "--checkpoint", Out("cluster"), "--samples", "400", "--out", Out("eval"));
        Assert.True(eval.ExitCode == 0, eval.All);
        Assert.Contains("\"sliced_wasserstein\"", eval.Stdout);
        Assert.Contains("\"mmd\"", eval.Stdout);
        Assert.True(File.Exists(Out("eval/eval.png")));
        var sample = Akkagan.Run("sample", "--checkpoint", Out("cluster"), "-n", "300", "--out", Out("s.png"));
        Assert.True(sample.ExitCode == 0 && File.Exists(Out("s.png")), sample.All);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void An_image_folder_should_train_at_32_pixels_with_both_engines_to_the_same_bytes_and_be_sampled_and_exported()
    {
        var write = Akkagan.Run("dataset", "write", "--dataset", "fashion-mnist", "-n", "300", "--out", Out("fashion"));
        Assert.True(write.ExitCode == 0, write.All);
        Assert.Equal(10, Directory.GetDirectories(Out("fashion")).Length);   // a folder per class
        Assert.Equal(300, Directory.GetFiles(Out("fashion"), "*.png", SearchOption.AllDirectories).Length);

        string[] training = ["train", "--dataset", "images", "--data-dir", Out("fashion"), "--image-size", "32", "--rounds", "3", "--batch", "8",
            "--latent-dim", "16", "--eval-every", "3", "--eval-samples", "32", "--checkpoint-every", "3", "--control-port", "0"];
        var reference = Akkagan.Run([.. training, "--engine", "reference", "--out", Out("ref")]);
        Assert.True(reference.ExitCode == 0, reference.All);
        Assert.Contains("images: decoding 300", reference.Stdout);
        Assert.Contains("scaled to 32x32 (300 scaled up)", reference.Stdout);
        var cluster = Akkagan.Run([.. training, "--engine", "cluster", "--out", Out("cluster")]);
        Assert.True(cluster.ExitCode == 0, cluster.All);
        Assert.Contains("decoded before", cluster.Stdout);   // the second run reads the cache
        CheckpointComparison.AssertEntitiesEqual(Out("ref"), "reference engine", Out("cluster"), "one-node cluster");

        var summary = JsonNode.Parse(File.ReadAllText(Out("cluster/summary.json")))!;
        Assert.Equal(1, summary["settings"]!["channels"]!.GetValue<int>());   // grayscale PNGs: one channel
        Assert.True(summary["sliced_wasserstein"]!.GetValue<double>() > 0, summary.ToJsonString());

        var sample = Akkagan.Run("sample", "--checkpoint", Out("cluster"), "-n", "16", "--out", Out("grid.png"));
        Assert.True(sample.ExitCode == 0 && File.Exists(Out("grid.png")), sample.All);
        var npy = Akkagan.Run("sample", "--checkpoint", Out("cluster"), "-n", "4", "--out", Out("x.npy"));
        Assert.True(npy.ExitCode == 0, npy.All);
        Assert.Equal([4L, 1, 32, 32], Core.Data.NpyFile.ReadShape(Out("x.npy")));
        var export = Akkagan.Run("export", "--checkpoint", Out("cluster"), "--out", Out("export/generator.safetensors"));
        Assert.True(export.ExitCode == 0, export.All);
        var module = File.ReadAllText(Out("export/generator.py"));
        Assert.Contains("stages=3", module);   // 4x4 maps doubled three times to 32x32
        // The module's network is the one the weights belong to: every name and shape (a stand-in torch builds it).
        var fits = ExportSpecs.Python(Path.Combine(Akkagan.RepositoryRoot, "tests", "AkkaGan.Integration.Tests", "check_module.py"),
            Out("export/generator.py"), Out("export/generator.safetensors"));
        Assert.True(fits.Code == 0, fits.Output);
        Assert.Contains("up3.weight [1, 64, 3, 3]", fits.Output);
    }

    /// <summary>
    /// With <c>--data-shards 2</c> each member of the one-node cluster and of the reference engine trains on its own
    /// shard of the file: the same bytes, the same metrics (against the held-out rows every shard keeps).
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void Sharded_points_should_train_with_both_engines_to_the_same_bytes()
    {
        var write = Akkagan.Run("dataset", "write", "--dataset", "spiral", "-n", "2000", "--out", Out("spiral.npy"));
        Assert.True(write.ExitCode == 0, write.All);
        string[] training = ["train", "--dataset", "points", "--data-file", Out("spiral.npy"), "--data-shards", "2", "--discriminators", "2",
            "--rounds", "20", "--batch", "64", "--unroll", "1", "--eval-every", "20", "--eval-samples", "300", "--hidden-units", "16", "--control-port", "0"];
        var reference = Akkagan.Run([.. training, "--engine", "reference", "--out", Out("ref")]);
        Assert.True(reference.ExitCode == 0, reference.All);
        var cluster = Akkagan.Run([.. training, "--engine", "cluster", "--out", Out("cluster")]);
        Assert.True(cluster.ExitCode == 0, cluster.All);
        CheckpointComparison.AssertEntitiesEqual(Out("ref"), "reference engine", Out("cluster"), "one-node cluster");
        var a = JsonNode.Parse(File.ReadAllText(Out("ref/summary.json")))!;
        var b = JsonNode.Parse(File.ReadAllText(Out("cluster/summary.json")))!;
        foreach (var key in new[] { "sliced_wasserstein", "mmd", "precision", "coverage" })
            Assert.Equal(a[key]!.GetValue<double>(), b[key]!.GetValue<double>());
    }

    [Theory]
    [InlineData(new[] { "--dataset", "points" }, "dataset=points needs data-file")]
    [InlineData(new[] { "--dataset", "points", "--data-file", "{dir}/none.csv" }, "none.csv: points file not found")]
    [InlineData(new[] { "--dataset", "points", "--data-file", "{dir}/p.txt" }, "p.txt: a points file is .csv or .npy")]
    [InlineData(new[] { "--dataset", "images", "--data-dir", "{dir}/empty" }, "empty: no images (.png, .jpg or .jpeg)")]
    [InlineData(new[] { "--dataset", "images", "--data-dir", "{dir}/empty", "--image-size", "30" }, "image-size must be one of 16, 28, 32, 56, 64, 112, 128")]
    [InlineData(new[] { "--dataset", "images", "--data-dir", "{dir}/empty", "--channels", "2" }, "channels must be 1 (grayscale), 3 (RGB) or 0")]
    public void Bad_data_should_be_refused_naming_it_before_training(string[] flags, string expected)
    {
        Directory.CreateDirectory(Out("empty"));
        File.WriteAllText(Out("p.txt"), "1,2\n");
        var result = Akkagan.Run(["train", .. flags.Select(f => f.Replace("{dir}", _dir, StringComparison.Ordinal)), "--rounds", "2", "--out", Out("bad")]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.False(Directory.Exists(Out("bad/checkpoints")), result.All);
    }

    [Fact]
    public void Dataset_write_should_refuse_what_it_cannot_write()
    {
        var files = Akkagan.Run("dataset", "write", "--dataset", "images", "--out", Out("x"));
        Assert.Equal(2, files.ExitCode);
        Assert.Contains("is already files", files.Stderr);
        var extension = Akkagan.Run("dataset", "write", "--dataset", "ring8", "--out", Out("x.txt"));
        Assert.Equal(2, extension.ExitCode);
        Assert.Contains("points are written as .csv or .npy", extension.Stderr);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
