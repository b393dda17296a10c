using System.Text.Json.Nodes;

namespace AkkaGan.Integration.Tests;

/// <summary>
/// <c>rejection-sampling</c> through the command line: a run with it reports the metrics of the generator's samples
/// and of the accepted ones side by side; <c>akkagan eval</c> and <c>akkagan sample</c> draw the same accepted
/// samples from the run's checkpoint, and refuse what cannot go together.
/// </summary>
public sealed class RejectionSamplingRunSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-rejection-it-").FullName;

    private string Out(string name) => Path.Combine(_dir, name);

    [Fact]
    [Trait("Category", "Slow")]
    public void A_run_should_report_both_samples_and_eval_and_sample_should_draw_the_accepted_ones_again()
    {
        string[] training = ["train", "--dataset", "ring8", "--rounds", "40", "--batch", "64", "--unroll", "0",
            "--eval-every", "20", "--eval-samples", "500", "--checkpoint-every", "20", "--hidden-units", "32",
            "--rejection-sampling", "--rejection-steps", "200", "--control-port", "0"];
        var run = Akkagan.Run([.. training, "--engine", "reference", "--out", Out("run")]);
        Assert.True(run.ExitCode == 0, run.All);
        Assert.Contains("rejection sampling: fitting a discriminator to the generator of round 40 (200 steps, percentile 80)", run.Stdout);
        Assert.Contains("rejection sampling", run.Stdout[run.Stdout.IndexOf("summary", StringComparison.Ordinal)..]);   // the summary's column

        var summary = JsonNode.Parse(File.ReadAllText(Out("run/summary.json")))!.AsObject();
        var rejection = summary["rejection_sampling"]!.AsObject();
        Assert.Equal(40, rejection["round"]!.GetValue<long>());
        Assert.Equal(200, rejection["steps"]!.GetValue<int>());
        Assert.Equal(80, rejection["percentile"]!.GetValue<double>());
        Assert.InRange(rejection["acceptance_rate"]!.GetValue<double>(), 1e-6, 1);
        Assert.Equal(8, rejection["modes"]!.GetValue<int>());
        Assert.InRange(rejection["high_quality_fraction"]!.GetValue<double>(), 0, 1);
        Assert.NotNull(rejection["precision"]);
        Assert.True(File.Exists(Path.Combine(Out("run"), rejection["samples_png"]!.GetValue<string>())), rejection.ToJsonString());
        Assert.NotNull(summary["high_quality_fraction"]);   // the generator's own samples stay reported

        // The cluster engine trains the same generator, so rejection sampling keeps the same samples.
        var cluster = Akkagan.Run([.. training, "--engine", "cluster", "--out", Out("cluster")]);
        Assert.True(cluster.ExitCode == 0, cluster.All);
        var clustered = JsonNode.Parse(File.ReadAllText(Out("cluster/summary.json")))!["rejection_sampling"]!.AsObject();
        foreach (var key in new[] { "candidates", "acceptance_rate", "modes_captured", "high_quality_fraction", "reverse_kl", "sliced_wasserstein", "precision", "recall" })
            Assert.True(rejection[key]!.ToJsonString() == clustered[key]!.ToJsonString(), $"{key}: reference {rejection[key]}, cluster {clustered[key]}");

        // The same checkpoint, steps and seed: the same accepted samples, so the same metrics, in another process.
        var eval = Akkagan.Run("eval", "--checkpoint", Out("run"), "--rejection-sampling", "--samples", "500", "--out", Out("eval"));
        Assert.True(eval.ExitCode == 0, eval.All);
        var evaluated = JsonNode.Parse(eval.Stdout[eval.Stdout.IndexOf('{', StringComparison.Ordinal)..eval.Stdout.LastIndexOf("wrote", StringComparison.Ordinal)])!;
        Assert.Equal(rejection["high_quality_fraction"]!.GetValue<double>(), evaluated["high_quality_fraction"]!.GetValue<double>());
        Assert.Equal(rejection["candidates"]!.GetValue<long>(), evaluated["candidates"]!.GetValue<long>());

        var sample = Akkagan.Run("sample", "--checkpoint", Out("run"), "--rejection-sampling", "-n", "100", "--out", Out("kept.csv"));
        Assert.True(sample.ExitCode == 0, sample.All);
        Assert.Equal(100, File.ReadAllLines(Out("kept.csv")).Length);
        var fewer = Akkagan.Run("sample", "--checkpoint", Out("run"), "--rejection-steps", "50", "--rejection-percentile", "99", "-n", "10", "--out", Out("kept10.csv"));
        Assert.True(fewer.ExitCode == 0, fewer.All);
        Assert.Contains("(50 steps, percentile 99)", fewer.All);
        Assert.Equal(10, File.ReadAllLines(Out("kept10.csv")).Length);

        var latent = Akkagan.Run("sample", "--checkpoint", Out("run"), "--rejection-sampling", "--latent", Out("z.npy"), "--out", Out("x.csv"));
        Assert.Equal(2, latent.ExitCode);
        Assert.Contains("give --latent or --rejection-sampling, not both", latent.Stderr);
        var zero = Akkagan.Run("eval", "--checkpoint", Out("run"), "--rejection-steps", "0");
        Assert.Equal(2, zero.ExitCode);
        Assert.Contains("rejection-steps", zero.Stderr);
        var whole = Akkagan.Run("eval", "--checkpoint", Out("run"), "--rejection-percentile", "100");
        Assert.Equal(2, whole.ExitCode);
        Assert.Contains("rejection-percentile", whole.Stderr);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
