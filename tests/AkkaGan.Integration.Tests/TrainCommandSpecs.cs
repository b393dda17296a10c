using System.Text.Json.Nodes;

namespace AkkaGan.Integration.Tests;

/// <summary>`akkagan train`'s flags, configuration files and help (the training runs themselves: <see cref="TrainRunSpecs"/>).</summary>
public sealed class TrainCommandSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-it-").FullName;

    // Small and fast: a few rounds of the real pipeline on ring8.
    private static readonly string[] Quick =
        ["--batch", "64", "--unroll", "1", "--eval-every", "3", "--checkpoint-every", "3", "--eval-samples", "300", "--torch-threads", "1"];

    private string Out(string name) => Path.Combine(_dir, name);

    [Fact]
    public void Glibc_should_take_the_malloc_settings_at_start()
    {
        // A refused mallopt (a threshold above glibc's ceiling) is reported at start, because image tensors are then
        // mapped and unmapped at every step; the machines this suite runs on have glibc.
        var result = Akkagan.Run("train", "--rounds", "0", "--out", Out("malloc"));
        Assert.Equal(2, result.ExitCode);
        Assert.DoesNotContain("refused the malloc settings", result.Stderr);
    }

    [Theory]
    [InlineData("--loss", "bogus", "valid: minimax, non-saturating, wasserstein, hinge, least-squares")]
    [InlineData("--dataset", "mnist", "valid: ring8, grid25, spiral, fashion-mnist, stacked-fashion-mnist")]
    [InlineData("--rounds", "0", "rounds must be a positive number")]
    [InlineData("--batch", "abc", "expected an integer")]
    [InlineData("--unroll-order", "third", "valid: first, second")]
    [InlineData("--members", "los=hinge", "member 0: unknown key 'los'")]
    [InlineData("--members", "loss=wasserstein", "population.members[0] (d-0): loss=wasserstein needs")]
    public void Train_should_reject_bad_flags_with_a_message_naming_them(string flag, string value, string expected)
    {
        var result = Akkagan.Run("train", flag, value, "--out", Out("bad"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.Contains(flag.TrimStart('-'), result.Stderr);
        Assert.False(Directory.Exists(Out("bad")), "nothing is written before the settings are valid");
    }

    [Fact]
    public void Train_should_reject_a_wasserstein_critic_without_constraint()
    {
        var result = Akkagan.Run("train", "--loss", "wasserstein", "--out", Out("w"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("gradient-penalty", result.Stderr);
    }

    [Fact]
    public void Train_should_name_a_missing_unparsable_or_unknown_key_config()
    {
        var missing = Akkagan.Run("train", "--config", Out("nope.hocon"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("nope.hocon: file not found", missing.Stderr);

        File.WriteAllText(Out("typo.hocon"), "akkagan.train { roundz = 5 }");
        var typo = Akkagan.Run("train", "--config", Out("typo.hocon"));
        Assert.Equal(2, typo.ExitCode);
        Assert.Contains("unknown key akkagan.train.roundz", typo.Stderr);
        Assert.Contains("rounds", typo.Stderr);

        File.WriteAllText(Out("value.hocon"), "akkagan.train { n-critic = many }");
        var value = Akkagan.Run("train", "--config", Out("value.hocon"));
        Assert.Equal(2, value.ExitCode);
        Assert.Contains("akkagan.train.n-critic: expected an integer", value.Stderr);

        File.WriteAllText(Out("dataset-typo.hocon"), "akkagan.dataset-defaults.fashion-mnist { batchsize = 8 }");
        var datasetTypo = Akkagan.Run("train", "--config", Out("dataset-typo.hocon"));
        Assert.Equal(2, datasetTypo.ExitCode);
        Assert.Contains("unknown key akkagan.dataset-defaults.fashion-mnist.batchsize", datasetTypo.Stderr);
        Assert.Contains("eval-samples", datasetTypo.Stderr);

        File.WriteAllText(Out("dataset-name.hocon"), "akkagan.dataset-defaults.mnist { batch = 8 }");
        var datasetName = Akkagan.Run("train", "--config", Out("dataset-name.hocon"));
        Assert.Equal(2, datasetName.ExitCode);
        Assert.Contains("unknown key akkagan.dataset-defaults.mnist", datasetName.Stderr);
        Assert.Contains("stacked-fashion-mnist", datasetName.Stderr);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Dataset_defaults_should_apply_under_the_config_file_and_the_flags()
    {
        var data = IdxWriter.TinyDataset(Out("idx"));
        // The dataset chosen by the config file: its dataset-defaults apply, the file's own batch wins over them.
        File.WriteAllText(Out("images.hocon"), "akkagan.train { dataset = fashion-mnist, batch = 8 }");
        var run = Akkagan.Run("train", "--config", Out("images.hocon"), "--data-dir", data, "--rounds", "2", "--unroll", "1",
            "--eval-every", "2", "--eval-samples", "16", "--latent-dim", "16", "--classifier-dir", Out("classifier"), "--out", Out("img"));
        Assert.True(run.ExitCode == 0, run.All);
        var settings = JsonNode.Parse(File.ReadAllText(Out("img/summary.json")))!["settings"]!;
        Assert.Equal(0.0002, settings["lr-g"]!.GetValue<double>());            // akkagan.dataset-defaults.fashion-mnist
        Assert.Equal(0.0002, settings["lr-d"]!.GetValue<double>());
        Assert.Equal("none", settings["lr-decay"]!.GetValue<string>());
        Assert.Equal(500, settings["checkpoint-every"]!.GetValue<long>());
        Assert.Equal(8, settings["batch"]!.GetValue<int>());                    // the --config file wins
        Assert.Equal(1, settings["unroll"]!.GetValue<int>());                   // and the flags win over both
        Assert.Equal(2, settings["rounds"]!.GetValue<long>());

        // The dataset chosen by the flag; the same file's explicit values still win, the 2-D defaults stay with ring8.
        File.WriteAllText(Out("lr.hocon"), "akkagan.train { lr-g = 0.0005 }");
        var flagged = Akkagan.Run("train", "--config", Out("lr.hocon"), "--dataset", "stacked-fashion-mnist", "--data-dir", data, "--rounds", "1",
            "--batch", "8", "--eval-every", "1", "--eval-samples", "16", "--latent-dim", "16", "--classifier-dir", Out("classifier"), "--out", Out("stacked"));
        Assert.True(flagged.ExitCode == 0, flagged.All);
        settings = JsonNode.Parse(File.ReadAllText(Out("stacked/summary.json")))!["settings"]!;
        Assert.Equal(0.0005, settings["lr-g"]!.GetValue<double>());
        Assert.Equal(0.0002, settings["lr-d"]!.GetValue<double>());
        Assert.Equal(0, settings["unroll"]!.GetValue<int>());

        var ring = Akkagan.Run(["train", .. Quick, "--rounds", "1", "--engine", "reference", "--out", Out("ring")]);
        Assert.True(ring.ExitCode == 0, ring.All);
        settings = JsonNode.Parse(File.ReadAllText(Out("ring/summary.json")))!["settings"]!;
        Assert.Equal(0.002, settings["lr-g"]!.GetValue<double>());
        Assert.Equal("linear", settings["lr-decay"]!.GetValue<string>());
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_heterogeneous_population_should_bind_from_hocon_and_be_recorded_in_the_summary()
    {
        File.WriteAllText(Out("members.hocon"), """
            akkagan.train.discriminators = 2
            akkagan.population.members = [ { loss = hinge, lr-d = 0.0005 }, { r1-gamma = 1 } ]
            """);
        var result = Akkagan.Run(["train", .. Quick, "--rounds", "3", "--engine", "reference", "--config", Out("members.hocon"), "--out", Out("members")]);
        Assert.True(result.ExitCode == 0, result.All);
        var members = JsonNode.Parse(File.ReadAllText(Out("members/summary.json")))!["settings"]!["members"]!.AsArray();
        Assert.Equal(2, members.Count);
        Assert.Equal("hinge", members[0]!["loss"]!.GetValue<string>());
        Assert.Equal(0.0005, members[0]!["lr-d"]!.GetValue<double>());
        Assert.Equal(1.0, members[1]!["r1-gamma"]!.GetValue<double>());

        File.WriteAllText(Out("bad-members.hocon"), "akkagan.population.members = [ hinge ]");
        var bad = Akkagan.Run("train", "--config", Out("bad-members.hocon"));
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("akkagan.population.members: every entry must be an object", bad.Stderr);
    }

    [Fact]
    public void Train_should_name_the_valid_engines()
    {
        var result = Akkagan.Run("train", "--engine", "spark");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("valid: reference, cluster", result.Stderr);
    }

    [Fact]
    public void Version_should_name_what_a_bug_report_needs()
    {
        var result = Akkagan.Run("--version");
        Assert.True(result.ExitCode == 0, result.All);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Matches(@"^akkagan \d+\.\d+\.\d+", lines[0]);
        Assert.Matches($@"^\.NET {System.Text.RegularExpressions.Regex.Escape(Environment.Version.ToString())} on ", lines[1]);
        Assert.Matches(@"^Akka\.NET 1\.5\.\d+", lines[2]);
        // The libtorch the node loads, and the backend of this build (the tests run the cpu build).
        Assert.Matches(@"^TorchSharp 0\.\d+\.\d+; libtorch \d+\.\d+", lines[3]);
        Assert.Contains("backend cpu (this build)", lines[3]);
    }

    [Fact]
    public void The_docs_should_list_every_flag_of_train()
    {
        // Settings are in the generated configuration reference, the other flags on the training page.
        var help = Akkagan.Run("train", "--help").Stdout;
        var readme = File.ReadAllText(Path.Combine(Akkagan.RepositoryRoot, "docs", "configuration.md"))
            + File.ReadAllText(Path.Combine(Akkagan.RepositoryRoot, "docs", "training.md"));
        var flags = System.Text.RegularExpressions.Regex.Matches(help, @"^\s+(--[a-z0-9-]+)", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).Where(f => f != "--help" && f != "--version").ToArray();
        Assert.NotEmpty(flags);
        Assert.All(flags, flag => Assert.Contains($"`{flag}", readme));
    }

    [Fact]
    public void Help_should_document_every_flag_group()
    {
        var result = Akkagan.Run("train", "--help");
        Assert.Equal(0, result.ExitCode);
        foreach (var flag in new[] { "--dataset", "--loss", "--unroll", "--unroll-order", "--discriminators", "--aggregate", "--n-critic", "--rounds", "--batch",
                     "--lr-g", "--lr-d", "--seed", "--eval-every", "--checkpoint-every", "--resume", "--device", "--out", "--config", "--engine",
                     "--clip", "--gradient-penalty", "--r1-gamma", "--instance-noise", "--l2-penalty" })
            Assert.Contains(flag, result.Stdout);
    }

    [Theory]
    [InlineData("akkagan.health { every = 0 }", "health.every must be at least 1")]
    [InlineData("akkagan.health { windw = 10 }", "unknown key akkagan.health.windw (valid keys: auto-remedy, every, window")]
    [InlineData("akkagan.health.remedies { mode-collapse = [more-r1] }", "more-r1 is not a remedy of mode-collapse")]
    [InlineData("akkagan.health.remedies { mode-collapse = [magic] }", "akkagan.health.remedies.mode-collapse: unknown value 'magic'")]
    [InlineData("akkagan.health.auto-remedy = maybe", "expected on or off, got 'maybe'")]
    public void Bad_health_settings_should_be_refused_naming_the_key(string hocon, string expected)
    {
        var config = Out("bad-health.hocon");
        File.WriteAllText(config, hocon);
        var run = Akkagan.Run("train", "--rounds", "1", "--config", config, "--out", Out("bad"));
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains(expected, run.All);
    }

    [Fact]
    public void A_missing_dataset_should_name_the_file_and_the_apt_package()
    {
        var result = Akkagan.Run("train", "--dataset", "fashion-mnist", "--data-dir", Out("no-such-folder"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("no-such-folder", result.Stderr);
        Assert.Contains("apt-get install dataset-fashion-mnist", result.Stderr);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
