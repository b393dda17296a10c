using System.Text.Json.Nodes;

namespace AkkaGan.Integration.Tests;

/// <summary>A temporary folder for a bench spec's outputs.</summary>
public abstract class BenchFixture : IDisposable
{
    protected string Dir { get; } = Directory.CreateTempSubdirectory("akkagan-bench-it-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }
}

/// <summary>`akkagan bench engines`, `bench wire` and `bench ctl` measure and write the documented JSON keys (no timing is asserted).</summary>
public sealed class BenchCommandSpecs : BenchFixture
{
    [Fact]
    [Trait("Category", "Slow")]
    public void Bench_engines_should_measure_all_three_engines_and_write_json()
    {
        var json = Path.Combine(Dir, "bench.json");
        var kept = Path.Combine(Dir, "kept");
        var result = Akkagan.Run(TimeSpan.FromMinutes(5), "bench", "engines", "--rounds", "20", "--warmup", "10", "--repetitions", "1", "--json", json,
            "--keep", kept, "--trace", "--", "--batch", "64", "--unroll", "1", "--eval-every", "5", "--eval-samples", "300");
        Assert.True(result.ExitCode == 0, result.All);
        var report = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(10, report["warmup"]!.GetValue<int>());
        // The steady rates at the top level (the documented keys), the whole runs' under whole_run.
        foreach (var rates in new[] { report, report["whole_run"]! })
        {
            foreach (var key in new[] { "reference_rounds_per_second", "cluster_1node_rounds_per_second", "cluster_3proc_rounds_per_second" })
                Assert.True(rates[key]!.GetValue<double>() > 0, $"{rates.GetPath()}.{key}");
            // The ratio is of the unrounded medians; the rates are stored to 3 decimals.
            Assert.Equal(rates["cluster_3proc_rounds_per_second"]!.GetValue<double>() / rates["reference_rounds_per_second"]!.GetValue<double>(),
                rates["cluster_3proc_ratio"]!.GetValue<double>(), tolerance: 0.005);
        }
        Assert.Contains("cluster_3proc", result.Stdout);
        // --trace: every cluster measurement prints its hops, timed in all of its processes.
        Assert.Contains("cluster_1node: a round's hand-offs", result.Stdout);
        Assert.Contains("cluster_3proc: a round's hand-offs", result.Stdout);
        Assert.Contains("d.feedback-sent -> g.feedback", result.Stdout);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(kept, "cluster_3proc-1", "trace"), "trace-*.tsv"));
        // Every process's output is kept with its run when asked.
        Assert.Contains("rounds 1..20", File.ReadAllText(Path.Combine(kept, "reference-1", "train.log")));
        Assert.Contains("discriminator", File.ReadAllText(Path.Combine(kept, "cluster_3proc-1", "discriminator-1.log")));
        Assert.True(File.Exists(Path.Combine(kept, "cluster_3proc-1", "coordinator.log")));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Bench_wire_should_move_tensors_both_ways_between_two_processes_and_write_json()
    {
        var json = Path.Combine(Dir, "wire.json");
        var result = Akkagan.Run(TimeSpan.FromMinutes(3), "bench", "wire", "--size", "1048576", "--count", "3", "--repetitions", "1", "--json", json);
        Assert.True(result.ExitCode == 0, result.All);
        var report = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal("akkagan.bench.wire/1", report["schema"]!.GetValue<string>());
        Assert.True(report["bulk_mb_per_second"]!.GetValue<double>() > 0, result.All);
        Assert.True(report["chunks_mb_per_second"]!.GetValue<double>() > 0, result.All);
        Assert.Contains("bulk / chunks", result.Stdout);
    }

    [Theory]
    [InlineData("--size", "3", "--size: 3 (a positive multiple of 4 bytes)")]
    [InlineData("--count", "0", "--count: 0 (at least 1)")]
    public void Bench_wire_should_refuse_bad_sizes_and_counts(string flag, string value, string expected)
    {
        var result = Akkagan.Run("bench", "wire", flag, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
    }

    [Fact]
    public void Bench_engines_should_refuse_flags_it_owns()
    {
        var result = Akkagan.Run("bench", "engines", "--", "--rounds", "5");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("give --rounds before `--`", result.Stderr);
    }

    [Theory]
    [InlineData("20", "--warmup: 20 (between 0 and --rounds - 1 = 19)")]
    [InlineData("-1", "--warmup: -1")]
    public void Bench_engines_should_refuse_a_warmup_that_leaves_nothing_to_measure(string warmup, string expected)
    {
        var result = Akkagan.Run("bench", "engines", "--rounds", "20", "--warmup", warmup);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Bench_ctl_should_time_akkagan_ctl_against_a_node_and_find_no_torch_beside_it()
    {
        var json = Path.Combine(Dir, "ctl.json");
        var result = Akkagan.Run(TimeSpan.FromMinutes(2), "bench", "ctl", "--repetitions", "2", "--json", json);
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("HOST:PORT cluster show", result.Stdout);
        var report = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal("akkagan.bench.ctl/1", report["schema"]!.GetValue<string>());
        Assert.Equal(2, report["samples_ms"]!["cluster_show"]!.AsArray().Count);
        Assert.True(report["cluster_show_ms_median"]!.GetValue<double>() > 0);
        Assert.True(report["version_ms_median"]!.GetValue<double>() > 0);
        // akkagan-ctl ships without TorchSharp: the operator's client never loads libtorch.
        Assert.Empty(report["torch_files_beside_ctl"]!.AsArray());
    }

    [Theory]
    [InlineData(new[] { "--repetitions", "0" }, "--repetitions: 0 (at least 1)")]
    [InlineData(new[] { "--ctl", "/nonexistent/akkagan-ctl" }, "--ctl: no file '/nonexistent/akkagan-ctl'")]
    public void Bench_ctl_should_refuse_bad_flags(string[] flags, string expected)
    {
        var result = Akkagan.Run(["bench", "ctl", .. flags]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
    }

}

/// <summary>`akkagan bench population` measures every engine for each population size and writes the documented JSON keys.</summary>
public sealed class BenchPopulationSpecs : BenchFixture
{
    [Fact]
    [Trait("Category", "Slow")]
    public void Bench_population_should_measure_every_engine_for_each_population_size_and_write_json()
    {
        var json = Path.Combine(Dir, "population.json");
        var kept = Path.Combine(Dir, "kept");
        var result = Akkagan.Run(TimeSpan.FromMinutes(5), "bench", "population", "--members", "1,2", "--rounds", "20", "--warmup", "10", "--repetitions", "1",
            "--json", json, "--keep", kept, "--", "--batch", "64", "--unroll", "1", "--eval-every", "5", "--eval-samples", "300");
        Assert.True(result.ExitCode == 0, result.All);
        var report = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal("akkagan.bench.population/1", report["schema"]!.GetValue<string>());
        Assert.Equal(20, report["rounds"]!.GetValue<int>());
        Assert.Equal(10, report["warmup"]!.GetValue<int>());
        var members = report["datasets"]!["ring8"]!["members"]!.AsArray();
        Assert.Equal([1, 2], members.Select(m => m!["n"]!.GetValue<int>()));
        foreach (var member in members.Select(m => m!))
        {
            foreach (var engine in new[] { "reference", "cluster_1node", "cluster_procs" })
            {
                Assert.True(member[$"{engine}_rounds_per_second"]!.GetValue<double>() > 0, $"{member.GetPath()}.{engine}");
                Assert.Single(member["samples"]![engine]!.AsArray());
            }
            // The ratio is of the unrounded medians; the rates are stored to 3 decimals.
            Assert.Equal(member["cluster_procs_rounds_per_second"]!.GetValue<double>() / member["reference_rounds_per_second"]!.GetValue<double>(),
                member["cluster_procs_ratio"]!.GetValue<double>(), tolerance: 0.005);
        }
        Assert.Contains("procs/ref vs N=1", result.Stdout);
        // One discriminator process per member: N = 2 ran two of them beside the coordinator's.
        Assert.Contains("discriminator", File.ReadAllText(Path.Combine(kept, "ring8-n2-cluster_procs-1", "discriminator-2.log")));
        Assert.False(File.Exists(Path.Combine(kept, "ring8-n1-cluster_procs-1", "discriminator-2.log")));
    }

    [Theory]
    [InlineData("--members", "0", "--members: \"0\" (positive integers, comma-separated)")]
    [InlineData("--members", "1,,2", "--members: \"1,,2\" (positive integers, comma-separated)")]
    [InlineData("--members", "1,two", "--members: \"1,two\" (positive integers, comma-separated)")]
    [InlineData("--datasets", "grid25", "--datasets: \"grid25\" (comma-separated: ring8, fashion-mnist, stacked-fashion-mnist)")]
    public void Bench_population_should_refuse_bad_members_and_datasets(string flag, string value, string expected)
    {
        var result = Akkagan.Run("bench", "population", flag, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
    }

    [Theory]
    [InlineData("--discriminators", "2")]
    [InlineData("--dataset", "fashion-mnist")]
    [InlineData("--rounds", "5")]
    [InlineData("--engine", "cluster")]
    public void Bench_population_should_refuse_flags_it_owns(string flag, string value)
    {
        var result = Akkagan.Run("bench", "population", "--", flag, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"bench population: {flag} after `--` is the benchmark's own", result.Stderr);
    }
}

/// <summary>`akkagan bench soak` samples every process of each engine and writes its report.</summary>
public sealed class BenchSoakSpecs : BenchFixture
{
    [Fact]
    [Trait("Category", "Slow")]
    public void Bench_soak_should_sample_every_process_of_each_engine_and_write_its_report()
    {
        var output = Path.Combine(Dir, "soak");
        // A budget no short run can exceed: the spec checks what is measured and written, not a growth.
        var result = Akkagan.Run(TimeSpan.FromMinutes(5), "bench", "soak", "--rounds", "200", "--from", "50", "--image-rounds", "0", "--interval", "0.1",
            "--commands-every", "0.5", "--budget", "1000", "--out", output, "--", "--batch", "64");
        Assert.True(result.ExitCode == 0, result.All);
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "soak.json")))!;
        Assert.Equal("akkagan.bench.soak/1", report["schema"]!.GetValue<string>());
        Assert.True(report["passed"]!.GetValue<bool>());
        var processes = report["processes"]!.AsArray().Select(p => $"{p!["engine"]} {p["process"]}").ToArray();
        Assert.Equal(["cluster_1node train", "cluster_3proc coordinator", "cluster_3proc discriminator-1", "cluster_3proc discriminator-2"], processes);
        foreach (var p in report["processes"]!.AsArray())
        {
            Assert.True(p!["rss_baseline_mb"]!.GetValue<double>() > 0, p.ToJsonString());
            Assert.True(p["rss_final_mb"]!.GetValue<double>() > 0, p.ToJsonString());
            Assert.True(p["threads_final"]!.GetValue<int>() > 0, p.ToJsonString());
        }
        foreach (var engine in new[] { "cluster_1node", "cluster_3proc" })
            Assert.NotNull(report["control_commands"]![$"ring8_{engine}"]!["ok"]);
        // Every sample of every process, with the run's round at its time.
        var lines = File.ReadAllLines(Path.Combine(output, "memory.tsv"));
        Assert.StartsWith("dataset\tengine\tprocess\tunix_seconds\tround\trss_mb", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("ring8\tcluster_3proc\tdiscriminator-2\t", StringComparison.Ordinal));
        Assert.True(new FileInfo(Path.Combine(output, "memory-ring8.png")).Length > 0);
    }

    [Theory]
    [InlineData("--engines", "cluster", "--engines: \"cluster\" (comma-separated: reference, cluster_1node, cluster_3proc)")]
    [InlineData("--budget", "0", "--budget: 0 (a positive percentage)")]
    [InlineData("--from", "100000", "--from: 100000 (between 0 and --rounds - 1 = 99999)")]
    [InlineData("--interval", "0", "--interval: 0 (at least 0.05 seconds)")]
    public void Bench_soak_should_refuse_bad_flags(string flag, string value, string expected)
    {
        var result = Akkagan.Run("bench", "soak", flag, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
    }

    [Fact]
    public void Bench_soak_should_refuse_to_run_nothing()
    {
        var result = Akkagan.Run("bench", "soak", "--rounds", "0", "--image-rounds", "0");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--rounds 0 and --image-rounds 0: nothing to soak", result.Stderr);
    }

    [Fact]
    public void Bench_soak_should_refuse_flags_it_owns()
    {
        var result = Akkagan.Run("bench", "soak", "--", "--dataset", "grid25");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("bench soak: --dataset after `--` is the benchmark's own", result.Stderr);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Bench_quality_should_run_every_seed_of_every_configuration_go_on_past_a_failed_run_and_write_json()
    {
        var json = Path.Combine(Dir, "quality.json");
        var result = Akkagan.Run(TimeSpan.FromMinutes(5), "bench", "quality", "--datasets", "ring8", "--seeds", "1-2",
            "--configuration", "plain=--unroll 0 --rejection-sampling --rejection-steps 20", "--configuration", "packed=--unroll 0 --pack 2 --rejection-sampling off",
            "--configuration", "refused=--pack 3", "--json", json,   // batch 64 makes no packs of 3: every run of it fails
            "--", "--rounds", "20", "--eval-every", "20", "--batch", "64", "--hidden-units", "16");
        Assert.True(result.ExitCode == 1, result.All);
        Assert.Contains("2 of 6 runs failed: ring8 refused seed 1; ring8 refused seed 2", result.Stderr);
        Assert.Contains("pass", result.Stdout);
        var failed = JsonNode.Parse(File.ReadAllText(json))!["failed"]!.AsArray();
        Assert.Equal([1L, 2L], failed.Select(f => f!["seed"]!.GetValue<long>()));
        Assert.All(failed, f => Assert.Equal("refused", f!["configuration"]!.GetValue<string>()));
        Assert.Empty(JsonNode.Parse(File.ReadAllText(json))!["datasets"]!["ring8"]!["refused"]!["runs"]!.AsArray());
        var ring8 = JsonNode.Parse(File.ReadAllText(json))!["datasets"]!["ring8"]!;
        // plain's runs with rejection sampling give a second row, measured on the samples it accepted.
        foreach (var name in new[] { "plain", "plain +rejection", "packed" })
        {
            var configuration = ring8[name]!;
            var runs = configuration["runs"]!.AsArray();
            Assert.Equal([1L, 2L], runs.Select(r => r!["seed"]!.GetValue<long>()));
            Assert.All(runs, r => Assert.Equal(8, r!["metrics"]!["modes"]!.GetValue<double>()));
            Assert.InRange(configuration["passed"]!.GetValue<int>(), 0, 2);
            var hq = runs.Select(r => r!["metrics"]!["high_quality_fraction"]!.GetValue<double>()).ToArray();
            Assert.Equal(hq.Average(), configuration["high_quality_fraction"]!["mean"]!.GetValue<double>(), 3);
            Assert.NotNull(configuration["coverage"]);
        }
        Assert.Equal("--unroll 0 --pack 2 --rejection-sampling off", ring8["packed"]!["flags"]!.GetValue<string>());
        Assert.Null(ring8["packed +rejection"]);
        Assert.Contains("plain +rejection", result.Stdout);
    }

    [Theory]
    [InlineData(new[] { "--seeds", "x" }, "--seeds: 'x' is not a seed")]
    [InlineData(new[] { "--seeds", "5-2" }, "--seeds: '5-2' is not a seed")]
    [InlineData(new[] { "--configuration", "--pack 4" }, "is not NAME=FLAGS")]
    [InlineData(new[] { "--configuration", "a=--seed 3" }, "--seed is the benchmark's own")]
    [InlineData(new[] { "--datasets", "mnist" }, "mnist")]
    [InlineData(new[] { "--min-hq", "2" }, "--min-hq: 2")]
    [InlineData(new[] { "--", "--dataset", "grid25" }, "--dataset after `--` is the benchmark's own")]
    public void Bench_quality_should_refuse_bad_flags(string[] flags, string expected)
    {
        var result = Akkagan.Run(["bench", "quality", .. flags]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
    }
}
