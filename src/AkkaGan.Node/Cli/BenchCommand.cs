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
/// gives medians and the ratios of the medians. Throughput is each run's own <c>rounds_per_second</c> (summary.json),
/// counted from the first round, so process and cluster start-up are excluded.
/// </summary>
public static class BenchCommand
{
    private static readonly string[] Engines = ["reference", "cluster_1node", "cluster_3proc"];

    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks that report ratios measured side by side in one run (micro benchmarks: see benchmarks/).");
        var engines = new Command("engines",
            "Rounds/s of the reference engine, the one-node cluster engine and a 3-process cluster on loopback (coordinator+generator and " +
            "two discriminator processes), alternating over several repetitions; prints medians and ratios. Extra training flags may follow `--`.");
        var rounds = new Option<int>("--rounds") { Description = "Rounds per measurement", HelpName = "N", DefaultValueFactory = _ => 500 };
        var repetitions = new Option<int>("--repetitions") { Description = "Measurements per engine", HelpName = "N", DefaultValueFactory = _ => 3 };
        var json = new Option<string?>("--json") { Description = "Also write the medians and ratios to this JSON file", HelpName = "FILE" };
        var extra = new Argument<string[]>("training-flags") { Description = "Training flags for every run (default: ring8, batch 512, cluster.hocon's defaults)", Arity = ArgumentArity.ZeroOrMore };
        engines.Options.Add(rounds);
        engines.Options.Add(repetitions);
        engines.Options.Add(json);
        engines.Arguments.Add(extra);
        engines.SetAction(parse => RunEngines(parse.GetValue(rounds), parse.GetValue(repetitions), parse.GetValue(json), parse.GetValue(extra) ?? []));
        bench.Subcommands.Add(engines);
        return bench;
    }

    private static int RunEngines(int rounds, int repetitions, string? jsonFile, string[] extra)
    {
        if (rounds < 10) throw new SettingsException($"--rounds: {rounds} (at least 10, so start-up effects do not dominate)");
        if (repetitions < 1) throw new SettingsException($"--repetitions: {repetitions} (at least 1)");
        if (extra.Any(f => f is "--rounds" or "--out" or "--engine" or "--resume"))
            throw new SettingsException("bench engines: give --rounds before `--`; --out, --engine and --resume are the benchmark's own");
        var work = Directory.CreateTempSubdirectory("akkagan-bench-").FullName;
        var results = Engines.ToDictionary(e => e, _ => new List<double>());
        // Ctrl-C or SIGTERM ends the benchmark: its child processes (trainers, cluster nodes) go with it.
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => KillChildren());
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => KillChildren());
        try
        {
            string[] common = ["--rounds", rounds.ToString(CultureInfo.InvariantCulture), .. extra];
            Console.WriteLine($"akkagan bench engines: {rounds} rounds x {repetitions} repetitions per engine, engines alternating" +
                              (extra.Length > 0 ? $", flags {string.Join(' ', extra)}" : ", default settings (ring8, batch 512)"));
            for (var rep = 1; rep <= repetitions; rep++)
            {
                foreach (var engine in Engines)
                {
                    var output = Path.Combine(work, $"{engine}-{rep}");
                    double rate;
                    try
                    {
                        rate = engine == "cluster_3proc"
                            ? RunThreeProcesses(common, output)
                            : RunTrain([.. common, "--engine", engine == "reference" ? "reference" : "cluster"], output);
                    }
                    catch (InvalidOperationException e)
                    {
                        Console.Error.WriteLine($"akkagan: error: bench engines, {engine}: {e.Message}");
                        return 1;
                    }
                    results[engine].Add(rate);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  repetition {rep}/{repetitions} {engine,-14} {rate,8:F2} rounds/s"));
                }
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }

        var median = results.ToDictionary(r => r.Key, r => Median(r.Value));
        var table = new Table().Title("[bold]engines, rounds/s[/]").AddColumn("engine").AddColumn("median", c => c.RightAligned())
            .AddColumn("min", c => c.RightAligned()).AddColumn("max", c => c.RightAligned()).AddColumn("x reference", c => c.RightAligned())
            .AddColumn("target", c => c.RightAligned());
        var targets = new Dictionary<string, double> { ["cluster_1node"] = 0.95, ["cluster_3proc"] = 0.80 };
        foreach (var engine in Engines)
        {
            var ratio = median[engine] / median["reference"];
            table.AddRow(engine, F(median[engine]), F(results[engine].Min()), F(results[engine].Max()), F(ratio, "F3"),
                targets.TryGetValue(engine, out var t) ? (ratio >= t ? $"[green]>= {t:F2} met[/]" : $"[red]>= {t:F2} missed[/]") : "");
        }
        AnsiConsole.Write(table);

        if (jsonFile is not null)
        {
            var report = new JsonObject
            {
                ["schema"] = "akkagan.bench.engines/1",
                ["rounds"] = rounds,
                ["repetitions"] = repetitions,
                ["flags"] = new JsonArray([.. extra.Select(f => (JsonNode)f)]),
                ["reference_rounds_per_second"] = Math.Round(median["reference"], 3),
                ["cluster_1node_rounds_per_second"] = Math.Round(median["cluster_1node"], 3),
                ["cluster_3proc_rounds_per_second"] = Math.Round(median["cluster_3proc"], 3),
                ["cluster_1node_ratio"] = Math.Round(median["cluster_1node"] / median["reference"], 4),
                ["cluster_3proc_ratio"] = Math.Round(median["cluster_3proc"] / median["reference"], 4),
                ["samples"] = new JsonObject(results.Select(r => KeyValuePair.Create(r.Key, (JsonNode?)new JsonArray([.. r.Value.Select(v => (JsonNode)Math.Round(v, 3))])))),
                ["machine"] = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}",
                ["date"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            };
            File.WriteAllText(jsonFile, report.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
            Console.WriteLine($"wrote {jsonFile}");
        }
        return 0;
    }

    private static double RunTrain(string[] flags, string output)
    {
        using var process = Start(["train", .. flags, "--out", output]);
        WaitFor(process, "akkagan train");
        return RoundsPerSecond(output);
    }

    /// <summary>A coordinator+generator node and two discriminator nodes, as deploy/local/run.sh starts them.</summary>
    private static double RunThreeProcesses(string[] flags, string output)
    {
        var seed = $"127.0.0.1:{FreePort()}";
        var port = seed.Split(':')[1];
        var workers = new List<Process>();
        try
        {
            for (var i = 0; i < 2; i++) workers.Add(Start(["node", "--roles", "discriminator", "--port", "0", "--seeds", seed]));
            using var coordinator = Start(["node", "--roles", "coordinator,generator", "--port", port, "--seeds", seed,
                "--discriminator-nodes", "2", .. flags, "--out", output]);
            WaitFor(coordinator, "the coordinator node");
            return RoundsPerSecond(output);
        }
        finally
        {
            foreach (var worker in workers)
            {
                if (!worker.HasExited) worker.Kill(entireProcessTree: true);
                worker.WaitForExit();
                worker.Dispose();
            }
        }
    }

    /// <summary>Starts this executable again (through `dotnet akkagan.dll` or the apphost, whichever ran us), output discarded.</summary>
    private static Process Start(string[] args)
    {
        var self = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(self) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(BenchCommand).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["CI"] = "true"; // plain log lines, no live progress bar
        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {self}");
        lock (Children) Children.Add(process);
        process.Exited += (_, _) => { lock (Children) Children.Remove(process); };
        process.EnableRaisingEvents = true;
        process.OutputDataReceived += (_, _) => { };
        // The child's standard error explains a failed measurement; WaitFor shows it.
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Errors.Add(process, errors);
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) errors.Enqueue(line); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Process, System.Collections.Concurrent.ConcurrentQueue<string>> Errors = [];

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

    private static void WaitFor(Process process, string what)
    {
        process.WaitForExit();
        if (process.ExitCode == 0) return;
        var stderr = Errors.TryGetValue(process, out var lines) ? string.Join(Environment.NewLine, lines.TakeLast(20).Select(l => "  " + l)) : "";
        throw new InvalidOperationException($"{what} exited with code {process.ExitCode}{Environment.NewLine}{stderr}");
    }

    private static double RoundsPerSecond(string output)
        => JsonNode.Parse(File.ReadAllText(Path.Combine(output, "summary.json")))!["rounds_per_second"]!.GetValue<double>();

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
