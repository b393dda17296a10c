using System.Text.Json.Nodes;

namespace AkkaGan.Integration.Tests;

/// <summary>`akkagan bench engines` measures every engine and writes the documented JSON keys (no timing is asserted).</summary>
public sealed class BenchCommandSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-bench-it-").FullName;

    [Fact]
    [Trait("Category", "Slow")]
    public void Bench_engines_should_measure_all_three_engines_and_write_json()
    {
        var json = Path.Combine(_dir, "bench.json");
        var result = Akkagan.Run(TimeSpan.FromMinutes(5), "bench", "engines", "--rounds", "10", "--repetitions", "1", "--json", json,
            "--", "--batch", "64", "--unroll", "1", "--eval-every", "5", "--eval-samples", "300");
        Assert.True(result.ExitCode == 0, result.All);
        var report = JsonNode.Parse(File.ReadAllText(json))!;
        foreach (var key in new[] { "reference_rounds_per_second", "cluster_1node_rounds_per_second", "cluster_3proc_rounds_per_second" })
            Assert.True(report[key]!.GetValue<double>() > 0, key);
        // The ratio is of the unrounded medians; the rates are stored to 3 decimals.
        Assert.Equal(report["cluster_3proc_rounds_per_second"]!.GetValue<double>() / report["reference_rounds_per_second"]!.GetValue<double>(),
            report["cluster_3proc_ratio"]!.GetValue<double>(), tolerance: 0.005);
        Assert.Contains("cluster_3proc", result.Stdout);
    }

    [Fact]
    public void Bench_engines_should_refuse_flags_it_owns()
    {
        var result = Akkagan.Run("bench", "engines", "--", "--rounds", "5");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("give --rounds before `--`", result.Stderr);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
