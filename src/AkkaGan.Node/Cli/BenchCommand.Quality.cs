using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using AkkaGan.Core.Settings;
using Spectre.Console;

namespace AkkaGan.Node.Cli;

/// <summary>
/// <c>akkagan bench quality</c>: sample quality over seeds x configurations x datasets under the PacGAN protocol
/// (2500 samples; a sample is high quality within 3 std of its nearest mode; a mode is captured with one high-quality
/// sample), each run a fresh <c>akkagan train</c> process. Reports per dataset and configuration the mean and standard
/// deviation of every metric the final evaluation has (modes, high-quality fraction and reverse KL for the mixtures; the
/// sliced Wasserstein distance, MMD, precision, recall, density and coverage for any data), the per-seed values, how
/// many seeds pass, and the wall time per run. A user's own data (<c>-- --dataset points --data-file F</c>) works too:
/// it is judged by the metrics that need no modes.
/// </summary>
public static partial class BenchCommand
{
    /// <summary>The final-evaluation metrics the report keeps, in table order (those a run does not have are skipped).</summary>
    private static readonly string[] QualityMetrics =
        ["modes_captured", "high_quality_fraction", "reverse_kl", "sliced_wasserstein", "mmd", "precision", "recall", "density", "coverage"];

    /// <summary>Short column names of <see cref="QualityMetrics"/>, so the table fits a terminal.</summary>
    private static readonly Dictionary<string, string> QualityHeaders = new()
    {
        ["modes_captured"] = "modes", ["high_quality_fraction"] = "HQ", ["reverse_kl"] = "rev KL", ["sliced_wasserstein"] = "SW2",
        ["mmd"] = "MMD", ["precision"] = "P", ["recall"] = "R", ["density"] = "D", ["coverage"] = "C",
    };

    private static Command CreateQuality()
    {
        var quality = new Command("quality",
            "Sample quality over seeds x configurations x datasets (PacGAN protocol: 2500 samples, high quality within 3 std of a mode), one " +
            "training process per run: mean +- std and per-seed values of the final evaluation's metrics, seeds that pass, wall time per run. " +
            "Extra training flags for every run may follow `--`.");
        var datasets = new Option<string>("--datasets") { Description = "Datasets, comma-separated", HelpName = "NAME,NAME", DefaultValueFactory = _ => "ring8,grid25" };
        var seeds = new Option<string>("--seeds") { Description = "Seeds: a list (1,2,3) or a range (1-10)", HelpName = "LIST", DefaultValueFactory = _ => "1-3" };
        var configurations = new Option<string[]>("--configuration")
        {
            Description = "A configuration to compare, as NAME=FLAGS (e.g. 'pack4=--pack 4'); repeat for more; default: the defaults alone",
            HelpName = "NAME=FLAGS", AllowMultipleArgumentsPerToken = false,
        };
        var minHq = new Option<double>("--min-hq") { Description = "A mixture seed passes with every mode captured and at least this high-quality fraction", HelpName = "X", DefaultValueFactory = _ => 0.8 };
        var json = new Option<string?>("--json") { Description = "Also write every run's metrics and the summaries to this JSON file", HelpName = "FILE" };
        var keep = new Option<string?>("--keep") { Description = "Keep every run's folder here (default: deleted)", HelpName = "DIR" };
        var flags = new Argument<string[]>("training-flags") { Description = "Training flags for every run", Arity = ArgumentArity.ZeroOrMore };
        foreach (var option in new Option[] { datasets, seeds, configurations, minHq, json, keep }) quality.Options.Add(option);
        quality.Arguments.Add(flags);
        quality.SetAction(parse => RunQuality(ParseList(parse.GetValue(datasets)!, "--datasets", [.. Enum.GetValues<DatasetKind>().Select(SettingValues.Kebab)]), ParseSeeds(parse.GetValue(seeds)!),
            ParseConfigurations(parse.GetValue(configurations) ?? []), parse.GetValue(minHq), parse.GetValue(flags) ?? [], parse.GetValue(json), parse.GetValue(keep)));
        return quality;
    }

    /// <summary>The seeds of <c>--seeds</c>: <c>1,2,5</c> or <c>1-10</c> (or both, comma-separated), each once, in order.</summary>
    internal static long[] ParseSeeds(string text)
    {
        var seeds = new List<long>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var range = part.Split('-');
            if (range.Length == 2 && long.TryParse(range[0], CultureInfo.InvariantCulture, out var from) && long.TryParse(range[1], CultureInfo.InvariantCulture, out var to) && from <= to && from >= 0)
            {
                if (to - from >= 1000) throw new SettingsException($"--seeds: {part} is more than 1000 seeds");
                for (var s = from; s <= to; s++) seeds.Add(s);
            }
            else if (range.Length == 1 && long.TryParse(part, CultureInfo.InvariantCulture, out var seed) && seed >= 0) seeds.Add(seed);
            else throw new SettingsException($"--seeds: '{part}' is not a seed (0 or more) or a range FROM-TO");
        }
        if (seeds.Count == 0) throw new SettingsException("--seeds: no seed given");
        return [.. seeds.Distinct()];
    }

    /// <summary>The configurations of <c>--configuration NAME=FLAGS</c>, or the defaults alone.</summary>
    internal static (string Name, string[] Flags)[] ParseConfigurations(string[] values)
    {
        if (values.Length == 0) return [("defaults", [])];
        var parsed = new List<(string, string[])>();
        foreach (var value in values)
        {
            var equals = value.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? "" : value[..equals].Trim();
            if (name.Length == 0 || name.StartsWith('-'))
                throw new SettingsException($"--configuration: '{value}' is not NAME=FLAGS (e.g. 'pack4=--pack 4', or 'defaults=' for no flags)");
            if (parsed.Any(p => p.Item1 == name)) throw new SettingsException($"--configuration: the name '{name}' is given twice");
            var flags = value[(equals + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (flags.FirstOrDefault(f => f is "--seed" or "--out" or "--dataset" or "--resume") is { } owned)
                throw new SettingsException($"--configuration {name}: {owned} is the benchmark's own (seeds and datasets are --seeds and --datasets)");
            parsed.Add((name, flags));
        }
        return [.. parsed];
    }

    private static int RunQuality(string[] datasets, long[] seeds, (string Name, string[] Flags)[] configurations, double minHq, string[] flags,
        string? jsonFile, string? keep)
    {
        if (flags.FirstOrDefault(f => f.Split('=')[0] is "--seed" or "--out" or "--dataset" or "--resume") is { } owned)
            throw new SettingsException($"bench quality: {owned.Split('=')[0]} after `--` is the benchmark's own (seeds: --seeds, datasets: --datasets)");
        if (!(minHq >= 0 && minHq <= 1)) throw new SettingsException($"--min-hq: {minHq} (between 0 and 1)");
        var runs = new List<(string Dataset, string Configuration, long Seed, JsonObject Metrics, double Wall)>();
        var failed = new List<(string Dataset, string Configuration, long Seed, string Error)>();
        var code = InWorkFolder(keep, work =>
        {
            var total = datasets.Length * configurations.Length * seeds.Length;
            Console.WriteLine($"akkagan bench quality: {string.Join(", ", datasets)} x {string.Join(", ", configurations.Select(c => c.Name))} x seeds " +
                              $"{string.Join(",", seeds)}: {total} runs" + (flags.Length > 0 ? $", flags {string.Join(' ', flags)}" : ""));
            var done = 0;
            foreach (var dataset in datasets)
            foreach (var (name, configurationFlags) in configurations)
            foreach (var seed in seeds)
            {
                var output = Path.Combine(work, $"{dataset}-{name}-seed{seed}");
                var clock = Stopwatch.StartNew();
                try
                {
                    RunTrain([.. flags, .. configurationFlags, "--dataset", dataset, "--seed", seed.ToString(CultureInfo.InvariantCulture), "--control-port", "0"], output);
                }
                catch (InvalidOperationException e)
                {
                    // One failed run (a refused flag, a crash) is reported and counted as not passing; the sweep goes on.
                    Console.Error.WriteLine($"akkagan: error: bench quality, {dataset} {name} seed {seed}: {e.Message}");
                    failed.Add((dataset, name, seed, e.Message));
                    done++;
                    continue;
                }
                var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "summary.json")))!.AsObject();
                var metrics = new JsonObject();
                foreach (var key in QualityMetrics.Append("modes"))
                    if (summary[key] is JsonValue value && value.TryGetValue<double>(out var number)) metrics[key] = number;
                runs.Add((dataset, name, seed, metrics, clock.Elapsed.TotalSeconds));
                done++;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {done}/{total} {dataset} {name} seed {seed}: {Describe(metrics)} ({clock.Elapsed.TotalSeconds:F0} s)"));
                // A run with rejection-sampling on reports its accepted samples too: a row of their own, from the same runs.
                if (summary["rejection_sampling"] is JsonObject rejection && rejection["error"] is null)
                {
                    var kept = new JsonObject();
                    foreach (var key in QualityMetrics.Append("modes"))
                        if (rejection[key] is JsonValue value && value.TryGetValue<double>(out var number)) kept[key] = number;
                    runs.Add((dataset, name + RejectionSuffix, seed, kept, clock.Elapsed.TotalSeconds));
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"      with rejection sampling: {Describe(kept)}"));
                }
            }
            return 0;
        });
        if (code != 0) return code;

        // Piped to a file, Spectre assumes 80 columns, which folds the table into unreadable shards.
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 200);
        var report = new JsonObject { ["seeds"] = new JsonArray([.. seeds.Select(s => (JsonNode)s)]), ["min_hq"] = minHq, ["flags"] = string.Join(' ', flags) };
        var byDataset = new JsonObject();
        foreach (var dataset in datasets)
        {
            var table = new Table().Title($"[bold]{Markup.Escape(dataset)}: final evaluation over {seeds.Length} seed(s), mean±std[/]").AddColumn("configuration")
                .Caption("modes captured, HQ: high-quality fraction, SW2: sliced Wasserstein, P/R/D/C: precision, recall, density, coverage");
            var present = QualityMetrics.Where(m => runs.Any(r => r.Dataset == dataset && r.Metrics.ContainsKey(m))).ToArray();
            foreach (var metric in present) table.AddColumn(QualityHeaders[metric], c => c.RightAligned());
            var mixture = present.Contains("modes_captured");
            if (mixture) table.AddColumn("pass", c => c.RightAligned());
            table.AddColumn("s/run", c => c.RightAligned()).AddColumn(mixture ? "per seed (modes/HQ)" : "per seed (sliced W2)");
            var configurationsJson = new JsonObject();
            var rows = configurations.SelectMany(c => runs.Any(r => r.Dataset == dataset && r.Configuration == c.Name + RejectionSuffix)
                ? new[] { c, (c.Name + RejectionSuffix, c.Flags) }
                : [c]);
            foreach (var (name, configurationFlags) in rows)
            {
                var mine = runs.Where(r => r.Dataset == dataset && r.Configuration == name).ToArray();
                var cells = new List<string> { Markup.Escape(name) };
                var summaryJson = new JsonObject { ["flags"] = string.Join(' ', configurationFlags) };
                foreach (var metric in present)
                {
                    var values = mine.Where(r => r.Metrics.ContainsKey(metric)).Select(r => r.Metrics[metric]!.GetValue<double>()).ToArray();
                    if (values.Length == 0)
                    {
                        cells.Add("-");
                        continue;
                    }
                    var (mean, std) = MeanStd(values);
                    var digits = metric == "modes_captured" ? "F1" : "F3";
                    cells.Add(F(mean, digits) + "±" + F(std, digits));
                    summaryJson[metric] = new JsonObject { ["mean"] = Math.Round(mean, 4), ["std"] = Math.Round(std, 4) };
                }
                if (mixture)
                {
                    var passed = mine.Count(r => Passes(r.Metrics, minHq));
                    cells.Add($"{passed}/{seeds.Length}");
                    summaryJson["passed"] = passed;
                }
                var wall = mine.Length == 0 ? 0 : mine.Average(r => r.Wall);
                cells.Add(mine.Length == 0 ? "-" : F(wall, "F0"));
                cells.Add(string.Join(" ", mine.Select(r => mixture
                    ? string.Create(CultureInfo.InvariantCulture, $"{Value(r.Metrics, "modes_captured"):F0}/{Value(r.Metrics, "high_quality_fraction"):F2}")
                    : F(Value(r.Metrics, "sliced_wasserstein"), "F3"))));
                if (mine.Length > 0) summaryJson["seconds_per_run"] = Math.Round(wall, 1);
                summaryJson["runs"] = new JsonArray([.. mine.Select(r => (JsonNode)new JsonObject
                {
                    ["seed"] = r.Seed,
                    ["seconds"] = Math.Round(r.Wall, 1),
                    ["metrics"] = r.Metrics.DeepClone(),
                })]);
                table.AddRow(cells.ToArray());
                configurationsJson[name] = summaryJson;
            }
            AnsiConsole.Write(table);
            byDataset[dataset] = configurationsJson;
        }
        report["datasets"] = byDataset;
        report["failed"] = new JsonArray([.. failed.Select(f => (JsonNode)new JsonObject
        {
            ["dataset"] = f.Dataset, ["configuration"] = f.Configuration, ["seed"] = f.Seed, ["error"] = f.Error,
        })]);
        if (jsonFile is not null) WriteReport(jsonFile, report);
        if (failed.Count == 0) return 0;
        Console.Error.WriteLine($"akkagan: error: bench quality: {failed.Count} of {datasets.Length * configurations.Length * seeds.Length} runs failed: " +
                                string.Join("; ", failed.Select(f => $"{f.Dataset} {f.Configuration} seed {f.Seed}")));
        return 1;
    }

    /// <summary>The row of a configuration's runs measured on the samples rejection sampling accepted.</summary>
    private const string RejectionSuffix = " +rejection";

    /// <summary>A mixture seed passes with every mode captured and a high-quality fraction of at least <paramref name="minHq"/>.</summary>
    private static bool Passes(JsonObject metrics, double minHq)
        => metrics.ContainsKey("modes_captured") && metrics.ContainsKey("modes")
           && Value(metrics, "modes_captured") >= Value(metrics, "modes") && Value(metrics, "high_quality_fraction") >= minHq;

    private static double Value(JsonObject metrics, string key) => metrics[key]?.GetValue<double>() ?? double.NaN;

    private static string Describe(JsonObject metrics)
        => string.Join(", ", QualityMetrics.Where(metrics.ContainsKey).Select(k => string.Create(CultureInfo.InvariantCulture, $"{k} {Value(metrics, k):G4}")));

    /// <summary>The mean and the sample standard deviation (0 for one value).</summary>
    private static (double Mean, double Std) MeanStd(double[] values)
    {
        if (values.Length == 0) return (double.NaN, double.NaN);
        var mean = values.Average();
        var std = values.Length < 2 ? 0 : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
        return (mean, std);
    }
}
