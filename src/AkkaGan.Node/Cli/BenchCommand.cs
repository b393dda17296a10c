using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using AkkaGan.Core.Settings;
using Spectre.Console;

namespace AkkaGan.Node.Cli;

/// <summary>
/// <c>akkagan bench engines</c>: rounds/s of the reference engine, the embedded one-node cluster and a 3-process
/// cluster on loopback, measured side by side in one run. Every measurement is a fresh process (same start-up and
/// JIT for all), the engines alternate within each repetition so a noisy neighbour hurts them alike, and the report
/// gives medians and the ratios of the medians. Two rates per run: the steady rate, from the first evaluation at or
/// after <c>--warmup</c> rounds to the last round (metrics.jsonl's wall clock), which is what a long training sees
/// once the JIT has compiled the hot paths; and the whole-run rate, summary.json's <c>rounds_per_second</c> (first
/// round to last, so process and cluster start-up and shut-down are excluded but warm-up is not).
/// </summary>
public static partial class BenchCommand
{
    private static readonly string[] Engines = ["reference", "cluster_1node", "cluster_3proc"];

    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks that report ratios measured side by side in one run (micro benchmarks: see benchmarks/).");
        var engines = new Command("engines",
            "Rounds/s of the reference engine, the one-node cluster engine and a 3-process cluster on loopback (coordinator+generator and " +
            "two discriminator processes), alternating over several repetitions; prints medians and ratios of the steady rate (after --warmup " +
            "rounds) and of the whole run. Extra training flags may follow `--`.");
        var plan = PlanOptions.AddTo(engines, rounds: 1000, warmup: 250,
            "Training flags for every run (default: ring8, batch 512, cluster.hocon's defaults)");
        var trace = new Option<bool>("--trace")
        {
            Description = "Also time every hand-off of the cluster engines' rounds (coordinator, generator, discriminators) and print each hop's median ms after the warm-up",
        };
        engines.Options.Add(trace);
        engines.SetAction(parse => RunEngines(plan.Read(parse), parse.GetValue(plan.Json), parse.GetValue(plan.Keep), parse.GetValue(trace)));
        bench.Subcommands.Add(engines);
        bench.Subcommands.Add(CreatePopulation());
        bench.Subcommands.Add(CreateWire());
        bench.Subcommands.Add(CreateCtl());
        bench.Subcommands.Add(CreateSoak());
        bench.Subcommands.Add(CreateQuality());
        return bench;
    }

    /// <summary>Each hop's median and mean ms in the rounds after the warm-up, from the measurement's trace files.</summary>
    private static void PrintTrace(string engine, string folder, int warmup)
    {
        if (!Directory.Exists(folder)) return;
        var table = new Table().Title($"[bold]{engine}: a round's hand-offs, ms after round {warmup}[/]").AddColumn("hop")
            .AddColumn("median", c => c.RightAligned()).AddColumn("mean", c => c.RightAligned());
        foreach (var (hop, median, mean) in AkkaGan.Cluster.Diagnostics.RoundTrace.Summarize(folder, warmup))
            table.AddRow(Markup.Escape(hop), F(median, "F3"), F(mean, "F3"));
        AnsiConsole.Write(table);
    }

    /// <summary>What to measure: rounds per run, the warm-up before the steady rate, runs per engine, training flags.</summary>
    private sealed record Plan(int Rounds, int Warmup, int Repetitions, string[] Flags)
    {
        /// <summary>Throws a readable error for values that leave nothing to measure, or for one of <paramref name="owned"/> after `--`.</summary>
        public void Validate(IReadOnlyCollection<string> owned, Func<string, string> ownedMessage)
        {
            CheckRounds(Rounds, Warmup, "--rounds", "--warmup");
            if (Repetitions < 1) throw new SettingsException($"--repetitions: {Repetitions} (at least 1)");
            if (Flags.FirstOrDefault(f => owned.Contains(FlagName(f))) is { } flag) throw new SettingsException(ownedMessage(FlagName(flag)));
        }

        /// <summary>Whether the training flags after `--` set <paramref name="flag"/> (as <c>--flag VALUE</c> or <c>--flag=VALUE</c>).</summary>
        public bool Sets(string flag) => Flags.Any(f => FlagName(f) == flag);

        private static string FlagName(string flag) => flag.Split('=')[0];
    }

    private static void CheckRounds(int rounds, int warmup, string roundsFlag, string warmupFlag)
    {
        if (rounds < 10) throw new SettingsException($"{roundsFlag}: {rounds} (at least 10, so start-up effects do not dominate)");
        if (warmup < 0 || warmup >= rounds) throw new SettingsException($"{warmupFlag}: {warmup} (between 0 and {roundsFlag} - 1 = {rounds - 1})");
    }

    /// <summary>The options of the engine benchmarks: rounds, warm-up, repetitions, the JSON report, kept run folders, training flags after `--`.</summary>
    private sealed record PlanOptions(Option<int> Rounds, Option<int> Warmup, Option<int> Repetitions, Option<string?> Json, Option<string?> Keep, Argument<string[]> Flags)
    {
        public static PlanOptions AddTo(Command command, int rounds, int warmup, string flags)
        {
            var options = new PlanOptions(
                new Option<int>("--rounds") { Description = "Rounds per measurement", HelpName = "N", DefaultValueFactory = _ => rounds },
                new Option<int>("--warmup")
                {
                    Description = "Rounds before the steady rate is counted (from the first evaluation at or after them; 0: the whole run)",
                    HelpName = "N", DefaultValueFactory = _ => warmup,
                },
                new Option<int>("--repetitions") { Description = "Measurements per engine", HelpName = "N", DefaultValueFactory = _ => 3 },
                new Option<string?>("--json") { Description = "Also write the medians and ratios to this JSON file", HelpName = "FILE" },
                new Option<string?>("--keep") { Description = "Keep every measurement's run folder and process logs here (default: deleted)", HelpName = "DIR" },
                new Argument<string[]>("training-flags") { Description = flags, Arity = ArgumentArity.ZeroOrMore });
            foreach (var option in new Option[] { options.Rounds, options.Warmup, options.Repetitions, options.Json, options.Keep }) command.Options.Add(option);
            command.Arguments.Add(options.Flags);
            return options;
        }

        public Plan Read(ParseResult parse) => new(parse.GetValue(Rounds), parse.GetValue(Warmup), parse.GetValue(Repetitions), parse.GetValue(Flags) ?? []);
    }

    /// <summary>One measurement: the steady and whole-run rates, and what its processes warned about.</summary>
    private sealed record Measurement(double Steady, double WholeRun, IReadOnlyList<string> Warnings);

    private static int RunEngines(Plan plan, string? jsonFile, string? keep, bool trace = false)
    {
        plan.Validate(["--rounds", "--out", "--engine", "--resume"], _ => "bench engines: give --rounds before `--`; --out, --engine and --resume are the benchmark's own");
        var results = Engines.ToDictionary(e => e, _ => new List<Measurement>());
        var code = InWorkFolder(keep, work =>
        {
            string[] common = ["--rounds", plan.Rounds.ToString(CultureInfo.InvariantCulture), .. plan.Flags];
            Console.WriteLine($"akkagan bench engines: {plan.Rounds} rounds x {plan.Repetitions} repetitions per engine, engines alternating, " +
                              $"steady rate after {plan.Warmup} rounds" +
                              (plan.Flags.Length > 0 ? $", flags {string.Join(' ', plan.Flags)}" : ", default settings (ring8, batch 512)"));
            for (var rep = 1; rep <= plan.Repetitions; rep++)
            {
                foreach (var engine in Engines)
                {
                    var output = Path.Combine(work, $"{engine}-{rep}");
                    try
                    {
                        // The reference engine has no hand-offs to time.
                        var traced = trace && engine != "reference" ? Path.Combine(output, "trace") : null;
                        results[engine].Add(RunMeasurement(engine, 2, common, output, plan.Warmup, $"repetition {rep}/{plan.Repetitions} {engine,-14}", traced));
                    }
                    catch (InvalidOperationException e)
                    {
                        Console.Error.WriteLine($"akkagan: error: bench engines, {engine}: {e.Message}");
                        return 1;
                    }
                }
            }
            return 0;
        });
        if (code != 0) return code;

        var steady = results.ToDictionary(r => r.Key, r => Median([.. r.Value.Select(m => m.Steady)]));
        var whole = results.ToDictionary(r => r.Key, r => Median([.. r.Value.Select(m => m.WholeRun)]));
        var table = new Table().Title($"[bold]rounds/s, medians (steady: after {plan.Warmup} rounds; x: of the reference)[/]").AddColumn("engine")
            .AddColumn("steady", c => c.RightAligned()).AddColumn("min", c => c.RightAligned()).AddColumn("max", c => c.RightAligned())
            .AddColumn("x", c => c.RightAligned()).AddColumn("target", c => c.RightAligned())
            .AddColumn("whole", c => c.RightAligned()).AddColumn("x", c => c.RightAligned());
        var targets = new Dictionary<string, double> { ["cluster_1node"] = 0.97, ["cluster_3proc"] = 0.90 };
        foreach (var engine in Engines)
        {
            var ratio = steady[engine] / steady["reference"];
            var rates = results[engine].Select(m => m.Steady).ToArray();
            table.AddRow(engine, F(steady[engine]), F(rates.Min()), F(rates.Max()), F(ratio, "F3"),
                targets.TryGetValue(engine, out var t) ? (ratio >= t ? $"[green]{t:F2} met[/]" : $"[red]{t:F2} missed[/]") : "",
                F(whole[engine]), F(whole[engine] / whole["reference"], "F3"));
        }
        AnsiConsole.Write(table);

        if (jsonFile is not null)
        {
            JsonObject Rates(Dictionary<string, double> medians, Func<Measurement, double> pick)
            {
                var rates = AddRates([], Engines, medians);
                rates["samples"] = Samples(results.Select(r => (r.Key, r.Value.Select(pick))), 3);
                return rates;
            }
            // The top-level rates are the steady ones (the targets'); whole_run has the same keys for the whole runs.
            var report = new JsonObject
            {
                ["schema"] = "akkagan.bench.engines/2",
                ["rounds"] = plan.Rounds,
                ["warmup"] = plan.Warmup,
                ["repetitions"] = plan.Repetitions,
                ["flags"] = new JsonArray([.. plan.Flags.Select(f => (JsonNode)f)]),
            };
            foreach (var (key, value) in Rates(steady, m => m.Steady).ToArray())
                report[key] = value?.DeepClone();
            report["whole_run"] = Rates(whole, m => m.WholeRun);
            report["warnings"] = results.Sum(r => r.Value.Sum(m => m.Warnings.Count));
            WriteReport(jsonFile, report);
        }
        return 0;
    }

    /// <summary>
    /// Runs <paramref name="body"/> with a folder for the run folders and process logs: a temporary one, deleted after,
    /// or <paramref name="keep"/>. Ctrl-C or SIGTERM ends the benchmark and its child processes (trainers, cluster nodes) with it.
    /// </summary>
    private static int InWorkFolder(string? keep, Func<string, int> body)
    {
        var work = keep is null ? Directory.CreateTempSubdirectory("akkagan-bench-").FullName : Directory.CreateDirectory(keep).FullName;
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => KillChildren());
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => KillChildren());
        try
        {
            return body(work);
        }
        finally
        {
            if (keep is null) Directory.Delete(work, recursive: true);
            else Console.WriteLine($"run folders and process logs kept in {work}");
        }
    }

    /// <summary>
    /// One measurement of <paramref name="engine"/> (reference, cluster_1node, or else a cluster of
    /// <paramref name="discriminatorProcesses"/> discriminator processes) in fresh processes, its run folder
    /// <paramref name="output"/>; prints its hops (when traced), its progress line after <paramref name="label"/>,
    /// and what its processes warned about.
    /// </summary>
    private static Measurement RunMeasurement(string engine, int discriminatorProcesses, string[] flags, string output, int warmup, string label, string? trace = null)
    {
        var logs = engine switch
        {
            "reference" => RunTrain(WithoutRejectionSampling([.. flags, "--engine", "reference"]), output, trace),
            "cluster_1node" => RunTrain(WithoutRejectionSampling([.. flags, "--engine", "cluster"]), output, trace),
            _ => RunProcesses(discriminatorProcesses, flags, output, trace),
        };
        var measurement = Measure(output, warmup, logs);
        if (trace is not null) PrintTrace(engine, trace, warmup);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {label} {measurement.Steady,8:F2} rounds/s steady, {measurement.WholeRun,8:F2} whole run"));
        // A gather that waited out its timeout, or a node that complained, makes this measurement unlike the others: say so.
        foreach (var warning in measurement.Warnings.Take(3)) Console.WriteLine($"    warning: {warning}");
        if (measurement.Warnings.Count > 3) Console.WriteLine($"    ... {measurement.Warnings.Count - 3} more in {output}");
        return measurement;
    }

    /// <summary>
    /// Adds to <paramref name="fields"/> <c>ENGINE_rounds_per_second</c> of every engine (3 decimals), then
    /// <c>ENGINE_ratio</c> of every other engine to the first (4 decimals; of the unrounded medians).
    /// </summary>
    private static JsonObject AddRates(JsonObject fields, string[] engines, Dictionary<string, double> medians)
    {
        foreach (var engine in engines) fields[$"{engine}_rounds_per_second"] = Math.Round(medians[engine], 3);
        foreach (var engine in engines.Skip(1)) fields[$"{engine}_ratio"] = Math.Round(medians[engine] / medians[engines[0]], 4);
        return fields;
    }

    /// <summary>Every measurement's value by series, rounded to <paramref name="digits"/> decimals.</summary>
    private static JsonObject Samples(IEnumerable<(string Key, IEnumerable<double> Values)> series, int digits)
        => new(series.Select(s => KeyValuePair.Create(s.Key, (JsonNode?)new JsonArray([.. s.Values.Select(v => (JsonNode)Math.Round(v, digits))]))));

    /// <summary>Writes <paramref name="report"/> with the machine and the date added, and says so.</summary>
    private static void WriteReport(string file, JsonObject report)
    {
        report["machine"] = $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}";
        report["date"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        File.WriteAllText(file, report.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
        Console.WriteLine($"wrote {file}");
    }

    /// <summary>
    /// The run's rates: steady from metrics.jsonl's evaluations (the first at or after <paramref name="warmup"/> rounds
    /// to the last), whole-run from summary.json; and the Akka warnings and errors its training process logged.
    /// </summary>
    private static Measurement Measure(string output, int warmup, string[] logs)
    {
        var whole = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "summary.json")))!["rounds_per_second"]!.GetValue<double>();
        var evaluations = File.ReadLines(Path.Combine(output, "metrics.jsonl"))
            .Select(line => JsonNode.Parse(line)!)
            .Where(e => e["event"]?.GetValue<string>() == "eval")
            .Select(e => (Round: e["round"]!.GetValue<long>(), Wall: e["wall_seconds"]!.GetValue<double>()))
            .ToArray();
        var steady = whole;
        if (warmup > 0)
        {
            var from = evaluations.FirstOrDefault(e => e.Round >= warmup);
            var to = evaluations.LastOrDefault();
            if (from.Round == 0 || to.Round <= from.Round || to.Wall <= from.Wall)
                throw new InvalidOperationException($"--warmup {warmup} leaves fewer than two evaluations in {output}/metrics.jsonl " +
                                                    $"(evaluations at rounds {string.Join(", ", evaluations.Select(e => e.Round))}); lower --warmup or --eval-every");
            steady = (to.Round - from.Round) / (to.Wall - from.Wall);
        }
        // Connection noise of nodes joining and leaving is not a training problem; anything else the training process
        // warned about (a round that waited out its timeout, a member left out) is.
        var warnings = logs.SelectMany(ReadShared)
            .Where(l => l.StartsWith("[WARNING]", StringComparison.Ordinal) || l.StartsWith("[ERROR]", StringComparison.Ordinal))
            .Where(l => !l.Contains("Association", StringComparison.OrdinalIgnoreCase) && !l.Contains("Tried to associate", StringComparison.Ordinal))
            .Select(l => l.Length > 240 ? l[..240] + "..." : l)
            .ToArray();
        return new Measurement(steady, whole, warnings);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string F(double value, string format = "F2") => value.ToString(format, CultureInfo.InvariantCulture);
}
