using System.Text.Json.Nodes;

namespace AkkaGan.Integration.Tests;

/// <summary>A temporary folder for a training's outputs, and the small runs the train specs make.</summary>
public abstract class TrainRunFixture : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-it-").FullName;

    // Small and fast: a few rounds of the real pipeline on ring8.
    protected static readonly string[] Quick =
        ["--batch", "64", "--unroll", "1", "--eval-every", "3", "--checkpoint-every", "3", "--eval-samples", "300", "--torch-threads", "1"];

    protected string Out(string name) => Path.Combine(_dir, name);

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// `akkagan train` end to end on small runs: outputs, the cluster engine against the reference, resume and images
/// (stops are in <see cref="TrainStopSpecs"/>; the flag, configuration and help specs in <see cref="TrainCommandSpecs"/>).
/// </summary>
public sealed class TrainRunSpecs : TrainRunFixture
{
    [Fact]
    [Trait("Category", "Slow")]
    public void The_cluster_engine_should_reproduce_the_reference_engines_run()
    {
        string[] flags = [.. Quick, "--rounds", "6", "--discriminators", "2", "--aggregate", "softmax"];
        var reference = Akkagan.Run(["train", .. flags, "--engine", "reference", "--out", Out("ref")]);
        Assert.True(reference.ExitCode == 0, reference.All);
        var cluster = Akkagan.Run(["train", .. flags, "--engine", "cluster", "--out", Out("cluster")]);
        Assert.True(cluster.ExitCode == 0, cluster.All);

        var a = JsonNode.Parse(File.ReadAllText(Out("ref/summary.json")))!;
        var b = JsonNode.Parse(File.ReadAllText(Out("cluster/summary.json")))!;
        Assert.Equal("cluster", b["engine"]!.GetValue<string>());
        foreach (var key in new[] { "high_quality_fraction", "reverse_kl", "generator_loss", "discriminator_loss" })
            Assert.Equal(a[key]!.GetValue<double>(), b[key]!.GetValue<double>());
        Assert.Equal(File.ReadAllLines(Out("ref/metrics.jsonl")).Length, File.ReadAllLines(Out("cluster/metrics.jsonl")).Length);
        Assert.Equal(2, Directory.GetFiles(Out("cluster/checkpoints"), "ckpt-r*.akgc").Length);

        // A cluster checkpoint resumes on either engine.
        var resumed = Akkagan.Run("train", "--resume", Out("cluster"), "--rounds", "7", "--engine", "reference");
        Assert.True(resumed.ExitCode == 0, resumed.All);
        Assert.Contains("at round 6", resumed.Stdout);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_short_run_should_write_every_output_and_eval_should_reproduce_its_metrics()
    {
        var run = Akkagan.Run(["train", .. Quick, "--rounds", "6", "--discriminators", "2", "--out", Out("run")]);
        Assert.True(run.ExitCode == 0, run.All);
        Assert.Contains("summary", run.Stdout);

        var summary = JsonNode.Parse(File.ReadAllText(Out("run/summary.json")))!;
        foreach (var key in new[] { "modes_captured", "high_quality_fraction", "reverse_kl", "rounds", "rounds_per_second", "wall_seconds", "settings" })
            Assert.NotNull(summary[key]);
        Assert.Equal(6, summary["rounds"]!.GetValue<long>());
        Assert.True(summary["completed"]!.GetValue<bool>());
        Assert.Equal(2, summary["settings"]!["discriminators"]!.GetValue<int>());

        var lines = File.ReadAllLines(Out("run/metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal([3L, 6L], lines.Select(l => l["round"]!.GetValue<long>()));
        Assert.Equal(2, lines[0]["discriminators"]!.AsArray().Count);
        foreach (var png in new[] { "run/samples/round-000003.png", "run/samples/round-000006.png" })
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(Out(png))[..4]);
        Assert.NotEmpty(Directory.GetFiles(Out("run/tb"), "events.out.tfevents.*"));
        Assert.Equal(2, Directory.GetFiles(Out("run/checkpoints"), "ckpt-r*.akgc").Length);

        var eval = Akkagan.Run("eval", "--checkpoint", Out("run"), "--out", Out("eval"));
        Assert.True(eval.ExitCode == 0, eval.All);
        var evaluated = JsonNode.Parse(File.ReadAllText(Out("eval/eval.json")))!;
        Assert.Equal(6, evaluated["round"]!.GetValue<long>());
        Assert.Equal(summary["modes_captured"]!.GetValue<int>(), evaluated["modes_captured"]!.GetValue<int>());
        Assert.Equal(summary["high_quality_fraction"]!.GetValue<double>(), evaluated["high_quality_fraction"]!.GetValue<double>());
        Assert.Equal(summary["reverse_kl"]!.GetValue<double>(), evaluated["reverse_kl"]!.GetValue<double>());
        Assert.True(File.Exists(Out("eval/eval.png")));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Resume_should_continue_to_the_same_result_as_an_uninterrupted_run()
    {
        // Constant learning rates: a linear decay is defined over --rounds, so a run first planned for 3 rounds and
        // then extended to 6 follows a different schedule (an interrupted run resumed with its own settings does
        // not; the in-process resume spec covers that with the decay on).
        var straight = Akkagan.Run(["train", .. Quick, "--lr-decay", "none", "--rounds", "6", "--out", Out("straight")]);
        Assert.True(straight.ExitCode == 0, straight.All);
        var firstHalf = Akkagan.Run(["train", .. Quick, "--lr-decay", "none", "--rounds", "3", "--out", Out("resumed")]);
        Assert.True(firstHalf.ExitCode == 0, firstHalf.All);
        var secondHalf = Akkagan.Run("train", "--resume", Out("resumed"), "--rounds", "6");
        Assert.True(secondHalf.ExitCode == 0, secondHalf.All);
        Assert.Contains("at round 3", secondHalf.Stdout);

        var a = JsonNode.Parse(File.ReadAllText(Out("straight/summary.json")))!;
        var b = JsonNode.Parse(File.ReadAllText(Out("resumed/summary.json")))!;
        Assert.Equal(6, b["rounds"]!.GetValue<long>());
        Assert.Equal(3, b["rounds_this_run"]!.GetValue<long>());
        foreach (var key in new[] { "high_quality_fraction", "reverse_kl", "generator_loss", "discriminator_loss" })
            Assert.Equal(a[key]!.GetValue<double>(), b[key]!.GetValue<double>());
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Resuming_from_a_corrupt_checkpoint_should_fail_clearly_and_keep_the_good_one()
    {
        var run = Akkagan.Run(["train", .. Quick, "--rounds", "6", "--out", Out("c")]);
        Assert.True(run.ExitCode == 0, run.All);
        var files = Directory.GetFiles(Out("c/checkpoints")).Order().ToArray();
        var good = File.ReadAllBytes(files[0]);
        File.WriteAllBytes(files[^1], File.ReadAllBytes(files[^1])[..^10]);

        var resumed = Akkagan.Run("train", "--resume", Out("c"), "--rounds", "9");
        Assert.Equal(2, resumed.ExitCode);
        Assert.Contains(Path.GetFileName(files[^1]), resumed.Stderr);
        Assert.Contains("corrupt checkpoint", resumed.Stderr);
        Assert.Contains(Path.GetFileName(files[0]), resumed.Stderr);
        Assert.Equal(good, File.ReadAllBytes(files[0]));
        Assert.Equal(files, Directory.GetFiles(Out("c/checkpoints")).Order().ToArray());

        var fromGood = Akkagan.Run("train", "--resume", files[0], "--rounds", "4");
        Assert.True(fromGood.ExitCode == 0, fromGood.All);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Image_data_should_train_the_dcgan_models_and_write_an_image_grid()
    {
        var data = IdxWriter.TinyDataset(Out("idx"));
        var run = Akkagan.Run("train", "--dataset", "fashion-mnist", "--data-dir", data, "--rounds", "2", "--batch", "8", "--unroll", "1",
            "--eval-every", "2", "--eval-samples", "16", "--latent-dim", "16", "--classifier-dir", Out("classifier"), "--out", Out("img"));
        Assert.True(run.ExitCode == 0, run.All);
        var png = File.ReadAllBytes(Out("img/samples/round-000002.png"));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        var summary = JsonNode.Parse(File.ReadAllText(Out("img/summary.json")))!;
        Assert.Equal("fashion-mnist", summary["dataset"]!.GetValue<string>());
        Assert.Null(summary["modes_captured"]);
        Assert.Contains("no test split", run.Stdout);   // the evaluation classifier was trained on these 64 images
        Assert.Single(Directory.GetFiles(Out("classifier"), "fashion-mnist-*.bin"));
    }
}

/// <summary>How a training stops: roll-back then stop on divergence, health remedies, and a clean stop on SIGTERM.</summary>
public sealed class TrainStopSpecs : TrainRunFixture
{
    [Theory]
    [InlineData("cluster")]
    [InlineData("reference")]
    [Trait("Category", "Slow")]
    public void A_diverging_run_should_roll_back_then_stop_with_its_good_checkpoints_intact(string engine)
    {
        // SGD at an absurd learning rate: NaN within a round or two, and one halving does not cure it.
        var result = Akkagan.Run(["train", "--engine", engine, .. Quick, "--rounds", "40", "--optimizer", "sgd", "--lr-g", "1e12", "--lr-d", "1e12",
            "--max-rollbacks", "1", "--out", Out(engine)]);
        Assert.True(result.ExitCode == 1, result.All);
        Assert.Contains("1 roll-back(s) with lower learning rates did not help", result.Stderr);
        var summary = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Out($"{engine}/summary.json")))!;
        Assert.False(summary["completed"]!.GetValue<bool>());
        Assert.Contains(summary["faults"]!.AsArray(), f => f!["fault"]!.GetValue<string>() == "rolled-back");
        Assert.Contains("\"change\":\"learning rates x0.5 (divergence guard)\"", File.ReadAllText(Out($"{engine}/metrics.jsonl")));
        // No diverged state was written: no checkpoint is newer than the last good round the message names.
        var named = System.Text.RegularExpressions.Regex.Match(result.Stderr, @"checkpoints up to round (\d+) are intact");
        Assert.True(named.Success || result.Stderr.Contains("diverged before its first checkpoint", StringComparison.Ordinal), result.Stderr);
        var lastGood = named.Success ? long.Parse(named.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        var written = Directory.Exists(Out($"{engine}/checkpoints")) ? Directory.GetFiles(Out($"{engine}/checkpoints"), "ckpt-r*.akgc") : [];
        Assert.All(written, f => Assert.True(long.Parse(Path.GetFileNameWithoutExtension(f)[6..], System.Globalization.CultureInfo.InvariantCulture) <= lastGood, f));
    }

    [Theory]
    [InlineData("cluster")]
    [InlineData("reference")]
    [Trait("Category", "Slow")]
    public void Health_diagnoses_and_auto_remedies_should_reach_the_console_metrics_and_summary(string engine)
    {
        // Thresholds a 9-round run cannot meet: mode collapse at every check from round 3, a remedy each time.
        var config = Out($"health-{engine}.hocon");
        File.WriteAllText(config, """
            akkagan.health {
              every = 3, window = 4, warmup = 3, baseline-rounds = 2
              mode-collapse { modes-fraction = 1, pairwise-ratio = 10 }
              remedies { cooldown = 3, max-per-remedy = 1, mode-collapse = [add-discriminator, more-unroll] }
            }
            """);
        var run = Akkagan.Run(["train", .. Quick, "--engine", engine, "--rounds", "9", "--config", config, "--auto-remedy", "--out", Out(engine)]);
        Assert.True(run.ExitCode == 0, run.All);
        Assert.Contains("round 3: health mode-collapse: evaluation of round 3:", run.Stdout);
        Assert.Contains("round 3: auto-remedy add-discriminator for mode-collapse", run.Stdout);
        Assert.Contains("added d-1", run.Stdout);
        Assert.Contains("| mode-collapse |", run.Stdout);   // the progress line

        var lines = File.ReadAllLines(Out($"{engine}/metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToArray();
        var health = lines.Where(l => l["event"]?.GetValue<string>() == "health").ToArray();
        Assert.Equal([3L, 6L, 9L], health.Select(h => h["round"]!.GetValue<long>()));
        Assert.All(health, h => Assert.Equal("mode-collapse", h["status"]!.GetValue<string>()));
        Assert.Equal(["add-discriminator", "more-unroll", null], health.Select(h => h["remedy"]?["name"]?.GetValue<string>()));
        Assert.Contains("no remedy of mode-collapse left", health[2]["remedy_note"]!.GetValue<string>());
        Assert.InRange(health[0]["signals"]!["d_accuracy"]!.GetValue<double>(), 0, 1);
        Assert.NotNull(health[0]["signals"]!["pairwise_ratio"]);
        var changes = lines.Where(l => l["event"]?.GetValue<string>() == "change").Select(l => l["change"]!.GetValue<string>()).ToArray();
        Assert.Equal(["added d-1 (loss non-saturating, lr-d 0.001) (auto-remedy add-discriminator for mode-collapse)", "unroll = 6 (auto-remedy more-unroll for mode-collapse)"], changes);

        var summary = JsonNode.Parse(File.ReadAllText(Out($"{engine}/summary.json")))!;
        Assert.Equal("mode-collapse", summary["health"]!["status"]!.GetValue<string>());
        Assert.Equal(3, summary["health"]!["diagnoses"]!["mode-collapse"]!.GetValue<int>());
        Assert.Equal(2, summary["health"]!["remedies"]!.AsArray().Count);
        Assert.Equal(2, summary["settings"]!["discriminators"]!.GetValue<int>());
        Assert.Equal(6, summary["settings"]!["unroll"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("reference")]
    [InlineData("cluster")]
    [Trait("Category", "Slow")]
    public void Sigterm_should_stop_cleanly_with_a_final_checkpoint_that_resumes(string engine)
    {
        using var process = Akkagan.Start(["train", .. Quick, "--rounds", Akkagan.Endless, "--engine", engine, "--out", Out("term")]);
        try
        {
            StopWithSigterm(process);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true); // never leave a trainer behind
        }

        var summary = JsonNode.Parse(File.ReadAllText(Out("term/summary.json")))!;

        Assert.False(summary["completed"]!.GetValue<bool>());
        var stopped = summary["rounds"]!.GetValue<long>();
        Assert.True(stopped >= 3);
        Assert.True(File.Exists(Path.Combine(Out("term/checkpoints"), $"ckpt-r{stopped:D8}.akgc")), "no final checkpoint at the stopped round");

        var resumed = Akkagan.Run("train", "--resume", Out("term"), "--rounds", (stopped + 2).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(resumed.ExitCode == 0, resumed.All);
        Assert.Contains($"at round {stopped}", resumed.Stdout);
    }

    /// <summary>Waits until training has evaluated once, sends SIGTERM, and expects exit code 130 within a minute.</summary>
    private void StopWithSigterm(System.Diagnostics.Process process)
    {
        var metrics = Out("term/metrics.jsonl");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((!File.Exists(metrics) || new FileInfo(metrics).Length == 0) && DateTime.UtcNow < deadline && !process.HasExited) Thread.Sleep(100);
        if (process.HasExited) Assert.Fail($"akkagan exited early with code {process.ExitCode}");
        Assert.True(File.Exists(metrics), "training did not start within 60 s");
        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        Assert.True(process.WaitForExit(60_000), "the process did not stop after SIGTERM");
        Assert.Equal(130, process.ExitCode);
    }
}
