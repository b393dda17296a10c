using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
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
        var rounds = new Option<int>("--rounds") { Description = "Rounds per measurement", HelpName = "N", DefaultValueFactory = _ => 1000 };
        var warmup = new Option<int>("--warmup")
        {
            Description = "Rounds before the steady rate is counted (from the first evaluation at or after them; 0: the whole run)",
            HelpName = "N", DefaultValueFactory = _ => 250,
        };
        var repetitions = new Option<int>("--repetitions") { Description = "Measurements per engine", HelpName = "N", DefaultValueFactory = _ => 3 };
        var json = new Option<string?>("--json") { Description = "Also write the medians and ratios to this JSON file", HelpName = "FILE" };
        var keep = new Option<string?>("--keep") { Description = "Keep every measurement's run folder and process logs here (default: deleted)", HelpName = "DIR" };
        var trace = new Option<bool>("--trace")
        {
            Description = "Also time every hand-off of the cluster engines' rounds (coordinator, generator, discriminators) and print each hop's median ms after the warm-up",
        };
        var extra = new Argument<string[]>("training-flags") { Description = "Training flags for every run (default: ring8, batch 512, cluster.hocon's defaults)", Arity = ArgumentArity.ZeroOrMore };
        engines.Options.Add(rounds);
        engines.Options.Add(warmup);
        engines.Options.Add(repetitions);
        engines.Options.Add(json);
        engines.Options.Add(keep);
        engines.Options.Add(trace);
        engines.Arguments.Add(extra);
        engines.SetAction(parse => RunEngines(new Plan(parse.GetValue(rounds), parse.GetValue(warmup), parse.GetValue(repetitions), parse.GetValue(extra) ?? []),
            parse.GetValue(json), parse.GetValue(keep), parse.GetValue(trace)));
        bench.Subcommands.Add(engines);
        bench.Subcommands.Add(CreateWire());
        bench.Subcommands.Add(CreateCtl());
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

    private sealed record Plan(int Rounds, int Warmup, int Repetitions, string[] Flags);

    /// <summary>One measurement: the steady and whole-run rates, and what its processes warned about.</summary>
    private sealed record Measurement(double Steady, double WholeRun, IReadOnlyList<string> Warnings);

    private static int RunEngines(Plan plan, string? jsonFile, string? keep, bool trace = false)
    {
        if (plan.Rounds < 10) throw new SettingsException($"--rounds: {plan.Rounds} (at least 10, so start-up effects do not dominate)");
        if (plan.Warmup < 0 || plan.Warmup >= plan.Rounds)
            throw new SettingsException($"--warmup: {plan.Warmup} (between 0 and --rounds - 1 = {plan.Rounds - 1})");
        if (plan.Repetitions < 1) throw new SettingsException($"--repetitions: {plan.Repetitions} (at least 1)");
        if (plan.Flags.Any(f => f is "--rounds" or "--out" or "--engine" or "--resume"))
            throw new SettingsException("bench engines: give --rounds before `--`; --out, --engine and --resume are the benchmark's own");
        var work = keep is null ? Directory.CreateTempSubdirectory("akkagan-bench-").FullName : Directory.CreateDirectory(keep).FullName;
        var results = Engines.ToDictionary(e => e, _ => new List<Measurement>());
        // Ctrl-C or SIGTERM ends the benchmark: its child processes (trainers, cluster nodes) go with it.
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => KillChildren());
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => KillChildren());
        try
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
                    Measurement measurement;
                    try
                    {
                        // The reference engine has no hand-offs to time.
                        var traced = trace && engine != "reference" ? Path.Combine(output, "trace") : null;
                        var logs = engine == "cluster_3proc"
                            ? RunThreeProcesses(common, output, traced)
                            : RunTrain([.. common, "--engine", engine == "reference" ? "reference" : "cluster"], output, traced);
                        measurement = Measure(output, plan.Warmup, logs);
                        if (traced is not null) PrintTrace(engine, traced, plan.Warmup);
                    }
                    catch (InvalidOperationException e)
                    {
                        Console.Error.WriteLine($"akkagan: error: bench engines, {engine}: {e.Message}");
                        return 1;
                    }
                    results[engine].Add(measurement);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  repetition {rep}/{plan.Repetitions} {engine,-14} {measurement.Steady,8:F2} rounds/s steady, {measurement.WholeRun,8:F2} whole run"));
                    // A gather that waited out its timeout, or a node that complained, makes this measurement unlike the others: say so.
                    foreach (var warning in measurement.Warnings.Take(3)) Console.WriteLine($"    warning: {warning}");
                    if (measurement.Warnings.Count > 3) Console.WriteLine($"    ... {measurement.Warnings.Count - 3} more in {output}");
                }
            }
        }
        finally
        {
            if (keep is null) Directory.Delete(work, recursive: true);
            else Console.WriteLine($"run folders and process logs kept in {work}");
        }

        var steady = results.ToDictionary(r => r.Key, r => Median([.. r.Value.Select(m => m.Steady)]));
        var whole = results.ToDictionary(r => r.Key, r => Median([.. r.Value.Select(m => m.WholeRun)]));
        var table = new Table().Title($"[bold]rounds/s, medians (steady: after {plan.Warmup} rounds; x: of the reference)[/]").AddColumn("engine")
            .AddColumn("steady", c => c.RightAligned()).AddColumn("min", c => c.RightAligned()).AddColumn("max", c => c.RightAligned())
            .AddColumn("x", c => c.RightAligned()).AddColumn("target", c => c.RightAligned())
            .AddColumn("whole", c => c.RightAligned()).AddColumn("x", c => c.RightAligned());
        var targets = new Dictionary<string, double> { ["cluster_1node"] = 0.95, ["cluster_3proc"] = 0.80 };
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
            JsonObject Rates(Dictionary<string, double> medians, Func<Measurement, double> pick) => new()
            {
                ["reference_rounds_per_second"] = Math.Round(medians["reference"], 3),
                ["cluster_1node_rounds_per_second"] = Math.Round(medians["cluster_1node"], 3),
                ["cluster_3proc_rounds_per_second"] = Math.Round(medians["cluster_3proc"], 3),
                ["cluster_1node_ratio"] = Math.Round(medians["cluster_1node"] / medians["reference"], 4),
                ["cluster_3proc_ratio"] = Math.Round(medians["cluster_3proc"] / medians["reference"], 4),
                ["samples"] = new JsonObject(results.Select(r => KeyValuePair.Create(r.Key, (JsonNode?)new JsonArray([.. r.Value.Select(m => (JsonNode)Math.Round(pick(m), 3))])))),
            };
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
            report["machine"] = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}";
            report["date"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
            File.WriteAllText(jsonFile, report.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
            Console.WriteLine($"wrote {jsonFile}");
        }
        return 0;
    }

    /// <summary>Logs of the measurement's processes (one file each, in its run folder).</summary>
    private static string[] RunTrain(string[] flags, string output, string? trace = null)
    {
        Directory.CreateDirectory(output);
        var log = Path.Combine(output, "train.log");
        WaitFor(Start(["train", .. flags, "--out", output], log, trace), "akkagan train", log);
        return [log];
    }

    /// <summary>A coordinator+generator node and two discriminator nodes, as deploy/local/run.sh starts them.</summary>
    private static string[] RunThreeProcesses(string[] flags, string output, string? trace = null)
    {
        Directory.CreateDirectory(output);
        var seed = $"127.0.0.1:{FreePort()}";
        var port = seed.Split(':')[1];
        var workers = new List<Child>();
        var coordinatorLog = Path.Combine(output, "coordinator.log");
        try
        {
            for (var i = 0; i < 2; i++)
                workers.Add(Start(["node", "--roles", "discriminator", "--port", "0", "--seeds", seed], Path.Combine(output, $"discriminator-{i + 1}.log"), trace));
            var coordinator = Start(["node", "--roles", "coordinator,generator", "--port", port, "--seeds", seed,
                "--discriminator-nodes", "2", .. flags, "--out", output], coordinatorLog, trace);
            WaitFor(coordinator, "the coordinator node", coordinatorLog);
            return [coordinatorLog];
        }
        finally
        {
            foreach (var worker in workers) worker.Dispose();
        }
    }

    /// <summary>A child process whose output goes to a log file (complete once the process has exited and this is disposed).</summary>
    private sealed class Child(Process process, StreamWriter log) : IDisposable
    {
        public Process Process => process;

        public void Dispose()
        {
            if (!process.HasExited)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // exited meanwhile
                }
            }
            process.WaitForExit(); // every output line has been written
            lock (log) log.Dispose();
            process.Dispose();
        }
    }

    /// <summary>Starts this executable again (through `dotnet akkagan.dll` or the apphost, whichever ran us), its output into <paramref name="log"/>.</summary>
    /// <param name="trace">A folder for the process's round trace (<see cref="AkkaGan.Cluster.Diagnostics.RoundTrace"/>), or null.</param>
    private static Child Start(string[] args, string log, string? trace = null)
    {
        var self = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(self) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(BenchCommand).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["CI"] = "true"; // plain log lines, no live progress bar
        if (trace is not null) start.Environment[AkkaGan.Cluster.Diagnostics.RoundTrace.Variable] = trace;
        var writer = new StreamWriter(log) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {self}");
        lock (Children) Children.Add(process);
        process.Exited += (_, _) => { lock (Children) Children.Remove(process); };
        process.EnableRaisingEvents = true;
        void Write(string? line)
        {
            if (line is null) return;
            lock (writer) writer.WriteLine(line); // Child.Dispose closes it only after the last line
        }
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new Child(process, writer);
    }

    private static readonly HashSet<Process> Children = [];

    private static void KillChildren()
    {
        Process[] children;
        lock (Children) children = [.. Children];
        foreach (var child in children)
        {
            try
            {
                child.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // already exited
            }
        }
    }

    private static void WaitFor(Child child, string what, string log)
    {
        child.Process.WaitForExit();
        var code = child.Process.ExitCode;
        child.Dispose();
        if (code == 0) return;
        var tail = File.Exists(log) ? string.Join(Environment.NewLine, ReadShared(log).TakeLast(20).Select(l => "  " + l)) : "";
        throw new InvalidOperationException($"{what} exited with code {code} (log {log}){Environment.NewLine}{tail}");
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

    /// <summary>A log's lines, readable while its writer may still hold it.</summary>
    private static IEnumerable<string> ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line) yield return line;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string F(double value, string format = "F2") => value.ToString(format, CultureInfo.InvariantCulture);
}
