using System.Text.Json.Nodes;

namespace AkkaGan.Integration.Tests;

/// <summary>
/// Short DCGAN runs through the CLI on a few hundred real Fashion-MNIST images (copied from the installed dataset into
/// a small IDX folder, so the evaluation classifier trains on them in seconds). Needs the Debian package
/// dataset-fashion-mnist; without it the tests fail with the install command.
/// </summary>
public sealed class ImageRunSpecs : IDisposable
{
    private const string Installed = "/usr/share/datasets/fashion-mnist";
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-images-").FullName;

    private string Out(string name) => Path.Combine(_dir, name);

    /// <summary>The first <paramref name="count"/> images of each split of the installed dataset, as a small IDX folder.</summary>
    private string SmallFashionMnist(int count)
    {
        var folder = Directory.CreateDirectory(Out("fashion")).FullName;
        foreach (var name in new[] { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" })
        {
            var source = Path.Combine(Installed, name);
            Assert.True(File.Exists(source), $"{source} is missing: install Fashion-MNIST with 'sudo apt-get install dataset-fashion-mnist'");
            var (dims, data) = IdxReader.Head(source, count);
            IdxWriter.Write(Path.Combine(folder, name), dims, data);
        }
        return folder;
    }

    [Theory]
    [InlineData("fashion-mnist", 10)]
    [InlineData("stacked-fashion-mnist", 1000)]
    [Trait("Category", "Slow")]
    public void A_short_cluster_run_should_write_image_grids_and_classifier_metrics(string dataset, int modes)
    {
        var data = SmallFashionMnist(400);
        var run = Akkagan.Run("train", "--engine", "cluster", "--dataset", dataset, "--data-dir", data, "--classifier-dir", Out("classifier"),
            "--rounds", "4", "--batch", "16", "--unroll", "0", "--eval-every", "2", "--eval-samples", "200", "--latent-dim", "32",
            "--torch-threads", "2", "--out", Out("run"));
        Assert.True(run.ExitCode == 0, run.All);
        Assert.Contains("evaluation classifier: test accuracy", run.Stdout);   // trained once, on the 400 images, tested on 400

        foreach (var round in new[] { "000002", "000004" })
        {
            var grid = File.ReadAllBytes(Out($"run/samples/round-{round}.png"));
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], grid[..4]);
            Assert.True(File.Exists(Out($"run/samples/modes-round-{round}.png")), "no mode histogram");
        }
        var summary = JsonNode.Parse(File.ReadAllText(Out("run/summary.json")))!;
        Assert.Equal(dataset, summary["dataset"]!.GetValue<string>());
        Assert.Equal(modes, summary["modes"]!.GetValue<int>());
        Assert.InRange(summary["modes_covered"]!.GetValue<int>(), 1, modes);
        Assert.InRange(summary["kl_to_uniform"]!.GetValue<double>(), 0, Math.Log(modes) + 1e-9);
        Assert.True(summary["fcd"]!.GetValue<double>() > 0);
        Assert.Null(summary["modes_captured"]);

        var evals = File.ReadAllLines(Out("run/metrics.jsonl")).Select(l => JsonNode.Parse(l)!).Where(l => l["event"]!.GetValue<string>() == "eval").ToArray();
        Assert.Equal(2, evals.Length);
        foreach (var line in evals)
        {
            Assert.Equal(200, line["mode_counts"]!.AsArray().Sum(c => c!.GetValue<int>()));
            Assert.Equal(modes, line["mode_counts"]!.AsArray().Count);
            Assert.True(line["eval_seconds"]!.GetValue<double>() > 0, "every evaluation records its cost");
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Classifier_train_should_report_progress_and_accuracy_and_write_the_weights()
    {
        var data = SmallFashionMnist(400);
        var run = Akkagan.Run("classifier", "train", "--data-dir", data, "--epochs", "2", "--out", Out("c.bin"));
        Assert.True(run.ExitCode == 0, run.All);
        Assert.Contains("epoch 1/2", run.Stdout);
        Assert.Contains("epoch 2/2", run.Stdout);
        Assert.Contains("test accuracy", run.Stdout);
        Assert.True(new FileInfo(Out("c.bin")).Length > 10_000);
        Assert.Contains("\"test_accuracy\"", File.ReadAllText(Out("c.json")));
    }

    [Fact]
    public void Classifier_train_should_name_the_apt_package_when_the_dataset_is_missing()
    {
        var run = Akkagan.Run("classifier", "train", "--data-dir", Out("nowhere"), "--out", Out("c.bin"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("nowhere", run.Stderr);
        Assert.Contains("apt-get install dataset-fashion-mnist", run.Stderr);
        Assert.False(File.Exists(Out("c.bin")));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
