using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using AkkaGan.Control;
using AkkaGan.Core.Diagnostics;
using AkkaGan.Core.Settings;
using AkkaGan.Node.Output;
using Spectre.Console;

namespace AkkaGan.Node.Cli;

/// <summary>
/// <c>akkagan bench soak</c>: whether every process of a long run keeps its memory flat. Each run (a ring8 population
/// with evolution, then a Fashion-MNIST run) trains on each engine in fresh processes whose <see cref="MemoryTrace"/>
/// samples the resident set, the managed heap, the live tensors and the threads at a fixed interval, while the
/// benchmark steers the run through its control host (status, health, population, sample, checkpoint) so the
/// long-lived paths are exercised. A process passes when its resident set at the end is within <c>--budget</c> percent
/// of its value at the baseline round (a median over the samples around it, so one evaluation's peak does not decide);
/// the report also gives the growth after the baseline as a least-squares rate in MB per 10,000 rounds.
/// </summary>
public static partial class BenchCommand
{
    private static readonly string[] SoakEngines = ["reference", "cluster_1node", "cluster_3proc"];

    private static Command CreateSoak()
    {
        var soak = new Command("soak",
            "Memory of every process over a long run: a ring8 population (2 discriminators with evolution, --unroll 0, no learning-rate " +
            "decay) for --rounds rounds and a Fashion-MNIST run for --image-rounds rounds, on each engine in --engines (the 3-process " +
            "cluster: a coordinator+generator process and two discriminator processes on loopback), steered every --commands-every seconds " +
            "through the control host. Samples every process's resident set, managed heap, live tensors and threads every --interval " +
            "seconds into --out (memory.tsv, a PNG per dataset, soak.json) and reports each process's resident set at the baseline round " +
            "and at the end, their ratio against --budget, and the growth rate after the baseline. Extra training flags may follow `--`.");
        var rounds = new Option<int>("--rounds") { Description = "Rounds of each ring8 run (0: no ring8 run)", HelpName = "N", DefaultValueFactory = _ => 100_000 };
        var from = new Option<int>("--from") { Description = "The ring8 baseline round: growth is measured from here", HelpName = "N", DefaultValueFactory = _ => 10_000 };
        var imageRounds = new Option<int>("--image-rounds")
        {
            Description = "Rounds of each Fashion-MNIST run (0: no image run)", HelpName = "N", DefaultValueFactory = _ => 5_000,
        };
        var imageFrom = new Option<int>("--image-from") { Description = "The Fashion-MNIST baseline round", HelpName = "N", DefaultValueFactory = _ => 1_000 };
        var engines = new Option<string>("--engines")
        {
            Description = $"Engines to soak (comma-separated: {string.Join(", ", SoakEngines)})", HelpName = "NAME,...",
            DefaultValueFactory = _ => "cluster_1node,cluster_3proc",
        };
        var interval = new Option<double>("--interval") { Description = "Seconds between two memory samples of a process", HelpName = "S", DefaultValueFactory = _ => 2 };
        var commandsEvery = new Option<double>("--commands-every")
        {
            Description = "Seconds between two rounds of control commands (gan status, health, population, sample, checkpoint); 0: none",
            HelpName = "S", DefaultValueFactory = _ => 30,
        };
        var budget = new Option<double>("--budget")
        {
            Description = "Growth allowed from the baseline to the end, percent of the baseline's resident set", HelpName = "PCT", DefaultValueFactory = _ => 5,
        };
        var output = new Option<string?>("--out")
        {
            Description = "Folder for memory.tsv, the PNGs, soak.json and every run's folder and logs (default: runs/soak-<time>)", HelpName = "DIR",
        };
        var flags = new Argument<string[]>("training-flags") { Description = "Training flags for every run", Arity = ArgumentArity.ZeroOrMore };
        foreach (var option in new Option[] { rounds, from, imageRounds, imageFrom, engines, interval, commandsEvery, budget, output }) soak.Options.Add(option);
        soak.Arguments.Add(flags);
        soak.SetAction(parse => RunSoak(new SoakPlan(parse.GetValue(rounds), parse.GetValue(from), parse.GetValue(imageRounds), parse.GetValue(imageFrom),
            ParseList(parse.GetValue(engines)!, "--engines", SoakEngines), parse.GetValue(interval), parse.GetValue(commandsEvery), parse.GetValue(budget),
            parse.GetValue(output) ?? Path.Combine("runs", $"soak-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}"),
            parse.GetValue(flags) ?? [])));
        return soak;
    }

    private sealed record SoakPlan(int Rounds, int From, int ImageRounds, int ImageFrom, string[] Engines, double Interval, double CommandsEvery,
        double Budget, string Output, string[] Flags)
    {
        public void Validate()
        {
            if (Rounds == 0 && ImageRounds == 0) throw new SettingsException("--rounds 0 and --image-rounds 0: nothing to soak (give one of them rounds)");
            if (Rounds != 0)
            {
                CheckRounds(Rounds, From, "--rounds", "--from");
                if (From < 1) throw new SettingsException($"--from: {From} (at least 1)");
            }
            if (ImageRounds != 0)
            {
                CheckRounds(ImageRounds, ImageFrom, "--image-rounds", "--image-from");
                if (ImageFrom < 1) throw new SettingsException($"--image-from: {ImageFrom} (at least 1)");
            }
            if (!(Interval >= 0.05)) throw new SettingsException($"--interval: {Interval} (at least 0.05 seconds)");
            if (!(CommandsEvery >= 0)) throw new SettingsException($"--commands-every: {CommandsEvery} (0 or more seconds)");
            if (!(Budget > 0)) throw new SettingsException($"--budget: {Budget} (a positive percentage)");
            string[] owned = ["--rounds", "--out", "--engine", "--resume", "--dataset", "--control-port", "--discriminator-nodes"];
            if (Flags.Select(f => f.Split('=')[0]).FirstOrDefault(owned.Contains) is { } flag)
                throw new SettingsException($"bench soak: {flag} after `--` is the benchmark's own (give --rounds and --image-rounds before `--`)");
        }

        /// <summary>The runs: ring8 (unless --rounds 0), then Fashion-MNIST (unless --image-rounds 0), each with its defaults where the flags after `--` leave them.</summary>
        public IEnumerable<(string Dataset, int Rounds, int From, string[] Flags)> Runs()
        {
            string[] With(params string[] defaults)
            {
                var chosen = new List<string>();
                for (var i = 0; i + 1 < defaults.Length; i += 2)
                    if (!Flags.Any(f => f.Split('=')[0] == defaults[i])) chosen.AddRange([defaults[i], defaults[i + 1]]);
                return [.. chosen, .. Flags];
            }
            if (Rounds > 0)
                yield return ("ring8", Rounds, From, With("--discriminators", "2", "--evolve-every", "2500", "--unroll", "0", "--lr-decay", "none",
                    "--eval-every", "2500", "--checkpoint-every", "10000", "--seed", "2"));
            if (ImageRounds > 0)
                yield return ("fashion-mnist", ImageRounds, ImageFrom, With("--lr-decay", "none", "--eval-every", "500", "--eval-samples", "500",
                    "--checkpoint-every", "1000", "--seed", "2"));
        }
    }

    /// <summary>One memory sample of a process (a row of its <see cref="MemoryTrace"/> file), with the run's round at its time.</summary>
    private sealed record MemoryPoint(double Time, long Round, double Rss, double Managed, long Tensors, int Threads);

    /// <summary>A process's verdict: resident set (MB) at the baseline and at the end, growth rate, and the other counters there.</summary>
    private sealed record SoakVerdict(string Dataset, string Engine, string Process, double Baseline, double Final, double Peak, double PerTenThousand,
        double ManagedBaseline, double ManagedFinal, long TensorsBaseline, long TensorsFinal, int ThreadsBaseline, int ThreadsFinal, bool Passed)
    {
        public double Ratio => Final / Baseline;
    }

    private static int RunSoak(SoakPlan plan)
    {
        plan.Validate();
        var output = Directory.CreateDirectory(plan.Output).FullName;
        var verdicts = new List<SoakVerdict>();
        var samples = new StringBuilder("dataset\tengine\tprocess\tunix_seconds\tround\trss_mb\tmanaged_mb\tlive_tensors\tthreads\n");
        var steering = new JsonObject();
        var code = InWorkFolder(Path.Combine(output, "runs"), work =>
        {
            foreach (var (dataset, rounds, from, flags) in plan.Runs())
            {
                var curves = new List<(string Label, double[] Rounds, double[] Rss)>();
                foreach (var engine in plan.Engines)
                {
                    var run = Path.Combine(work, $"{dataset}-{engine}");
                    var memory = Path.Combine(run, "memory");
                    var port = FreePort();
                    string[] common = ["--dataset", dataset, "--rounds", rounds.ToString(CultureInfo.InvariantCulture), "--control-port", port.ToString(CultureInfo.InvariantCulture), .. flags];
                    Console.WriteLine($"akkagan bench soak: {dataset}, {engine}, {rounds} rounds ({string.Join(' ', flags)}), memory every {plan.Interval} s");
                    using var stop = new CancellationTokenSource();
                    var steer = plan.CommandsEvery > 0 ? SteerAsync(port, TimeSpan.FromSeconds(plan.CommandsEvery), stop.Token) : Task.FromResult(new SteerCount());
                    var environment = new Dictionary<string, string> { [MemoryTrace.IntervalVariable] = plan.Interval.ToString(CultureInfo.InvariantCulture) };
                    try
                    {
                        _ = engine switch
                        {
                            "reference" => RunTrain(WithoutRejectionSampling([.. common, "--engine", "reference"]), run, memory: memory, environment: environment),
                            "cluster_1node" => RunTrain(WithoutRejectionSampling([.. common, "--engine", "cluster"]), run, memory: memory, environment: environment),
                            _ => RunProcesses(2, common, run, memory: memory, environment: environment),
                        };
                    }
                    catch (InvalidOperationException e)
                    {
                        Console.Error.WriteLine($"akkagan: error: bench soak, {dataset} {engine}: {e.Message}");
                        return 1;
                    }
                    finally
                    {
                        stop.Cancel();
                    }
                    var count = steer.GetAwaiter().GetResult();
                    steering[$"{dataset}_{engine}"] = new JsonObject { ["ok"] = count.Ok, ["refused"] = count.Refused, ["unreachable"] = count.Unreachable };
                    Console.WriteLine($"  control commands: {count.Ok} answered, {count.Refused} refused, {count.Unreachable} rounds without a connection" +
                                      (count.LastError is null ? "" : $" (last refusal: {count.LastError})"));
                    var traces = ReadMemoryTraces(memory);
                    foreach (var (process, points) in traces)
                    {
                        foreach (var p in points)
                            samples.Append(CultureInfo.InvariantCulture, $"{dataset}\t{engine}\t{process}\t{p.Time:F3}\t{p.Round}\t{p.Rss:F1}\t{p.Managed:F1}\t{p.Tensors}\t{p.Threads}\n");
                        var verdict = Judge(dataset, engine, process, points, from, rounds, plan.Budget);
                        verdicts.Add(verdict);
                        var steady = points.Where(p => p.Round >= 0).ToArray();
                        curves.Add(($"{engine} {process}", [.. steady.Select(p => (double)p.Round)], [.. steady.Select(p => p.Rss)]));
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"  {process,-16} resident set {verdict.Baseline,7:F1} MB at round {from} -> {verdict.Final,7:F1} MB at the end " +
                            $"(x{verdict.Ratio:F3}, {verdict.PerTenThousand:+0.0;-0.0} MB per 10,000 rounds) {(verdict.Passed ? "ok" : "OVER BUDGET")}"));
                    }
                }
                var png = Path.Combine(output, $"memory-{dataset}.png");
                Plots.MemoryCurves(png, $"{dataset}: resident set of every process (baseline: round {from})", curves, from);
                Console.WriteLine($"wrote {png}");
            }
            return 0;
        });
        File.WriteAllText(Path.Combine(output, "memory.tsv"), samples.ToString());
        if (verdicts.Count == 0) return code;

        var table = new Table().Title($"[bold]resident set per process, MB (budget: +{plan.Budget.ToString(CultureInfo.InvariantCulture)}% from the baseline round)[/]")
            .AddColumn("run").AddColumn("baseline", c => c.RightAligned()).AddColumn("end", c => c.RightAligned()).AddColumn("x", c => c.RightAligned())
            .AddColumn("/10k rnd", c => c.RightAligned()).AddColumn("managed").AddColumn("tensors").AddColumn("threads").AddColumn("");
        foreach (var v in verdicts)
            table.AddRow($"{v.Dataset} {v.Engine} {v.Process}", F(v.Baseline, "F1"), F(v.Final, "F1"), F(v.Ratio, "F3"), F(v.PerTenThousand, "+0.0;-0.0"),
                $"{F(v.ManagedBaseline, "F0")}>{F(v.ManagedFinal, "F0")}", $"{v.TensorsBaseline}>{v.TensorsFinal}", $"{v.ThreadsBaseline}>{v.ThreadsFinal}",
                v.Passed ? "[green]ok[/]" : "[red]over[/]");
        AnsiConsole.Write(table);

        var report = new JsonObject
        {
            ["schema"] = "akkagan.bench.soak/1",
            ["rounds"] = plan.Rounds,
            ["from"] = plan.From,
            ["image_rounds"] = plan.ImageRounds,
            ["image_from"] = plan.ImageFrom,
            ["budget_percent"] = plan.Budget,
            ["interval_seconds"] = plan.Interval,
            ["flags"] = new JsonArray([.. plan.Flags.Select(f => (JsonNode)f)]),
            ["control_commands"] = steering,
            ["processes"] = new JsonArray([.. verdicts.Select(v => (JsonNode)new JsonObject
            {
                ["dataset"] = v.Dataset, ["engine"] = v.Engine, ["process"] = v.Process,
                ["rss_baseline_mb"] = Math.Round(v.Baseline, 1), ["rss_final_mb"] = Math.Round(v.Final, 1), ["rss_peak_mb"] = Math.Round(v.Peak, 1),
                ["ratio"] = Math.Round(v.Ratio, 4), ["mb_per_10k_rounds"] = Math.Round(v.PerTenThousand, 2),
                ["managed_baseline_mb"] = Math.Round(v.ManagedBaseline, 1), ["managed_final_mb"] = Math.Round(v.ManagedFinal, 1),
                ["live_tensors_baseline"] = v.TensorsBaseline, ["live_tensors_final"] = v.TensorsFinal,
                ["threads_baseline"] = v.ThreadsBaseline, ["threads_final"] = v.ThreadsFinal, ["passed"] = v.Passed,
            })]),
            ["passed"] = verdicts.All(v => v.Passed),
        };
        WriteReport(Path.Combine(output, "soak.json"), report);
        Console.WriteLine($"samples in {Path.Combine(output, "memory.tsv")}");
        return code != 0 ? code : verdicts.All(v => v.Passed) ? 0 : 1;
    }

    /// <summary>Every process's samples (folder name: train, coordinator, discriminator-N), each with the run's round at its time.</summary>
    /// <remarks>
    /// The round is the main process's (train or coordinator) at the sample's time: a discriminator process sees rounds
    /// only while it holds a member, and the processes' clocks are the machine's.
    /// </remarks>
    private static List<(string Process, MemoryPoint[] Points)> ReadMemoryTraces(string folder)
    {
        var raw = new List<(string Process, (double Time, long Round, double Rss, double Managed, long Tensors, int Threads)[] Rows)>();
        if (!Directory.Exists(folder)) return [];
        foreach (var dir in Directory.GetDirectories(folder).Order(StringComparer.Ordinal))
            foreach (var file in Directory.GetFiles(dir, "memory-*.tsv"))
            {
                var header = File.ReadLines(file).FirstOrDefault()?.Split('\t') ?? [];
                int Column(string name) => Array.IndexOf(header, name) is >= 0 and var i ? i
                    : throw new InvalidOperationException($"{file}: no column '{name}' in its header");
                var (t, r, rss, managed, tensors, threads) = (Column("unix_seconds"), Column("round"), Column("rss_mb"), Column("managed_mb"), Column("live_tensors"), Column("threads"));
                var rows = File.ReadLines(file).Skip(1).Select(l => l.Split('\t')).Where(p => p.Length == header.Length)
                    .Select(p => (double.Parse(p[t], CultureInfo.InvariantCulture), long.Parse(p[r], CultureInfo.InvariantCulture),
                        double.Parse(p[rss], CultureInfo.InvariantCulture), double.Parse(p[managed], CultureInfo.InvariantCulture),
                        long.Parse(p[tensors], CultureInfo.InvariantCulture), int.Parse(p[threads], CultureInfo.InvariantCulture)))
                    .ToArray();
                raw.Add((Path.GetFileName(dir), rows));
            }
        var main = raw.FirstOrDefault(p => p.Process is "train" or "coordinator").Rows ?? [];
        var clock = main.Where(s => s.Round >= 0).Select(s => (s.Time, s.Round)).ToArray();
        long RoundAt(double time)
        {
            var round = -1L;
            foreach (var (t, r) in clock)
            {
                if (t > time) break;
                round = r;
            }
            return round;
        }
        return [.. raw.Select(p => (p.Process, p.Rows.Select(s => new MemoryPoint(s.Time, RoundAt(s.Time), s.Rss, s.Managed, s.Tensors, s.Threads)).ToArray()))];
    }

    /// <summary>
    /// The process's resident set at round <paramref name="from"/> (median of the samples within 1% of the run's rounds
    /// around it) and at the end (median over the last 2% of the rounds reached; at least 3 samples each), and the
    /// least-squares slope after
    /// <paramref name="from"/>.
    /// </summary>
    private static SoakVerdict Judge(string dataset, string engine, string process, MemoryPoint[] points, int from, int rounds, double budget)
    {
        var window = Math.Max(1, rounds / 100);
        var last = points.Length == 0 ? -1 : points.Max(p => p.Round);
        // At least the 3 samples nearest the round, where the run was too fast for the window to hold that many.
        var seen = points.Where(p => p.Round >= 0).ToArray();
        var atBaseline = seen.Where(p => p.Round >= from - window && p.Round <= from + window).ToArray();
        if (atBaseline.Length < 3) atBaseline = [.. seen.OrderBy(p => Math.Abs(p.Round - from)).Take(3)];
        var atEnd = seen.Where(p => p.Round >= last - 2 * window).ToArray();
        if (atEnd.Length < 3) atEnd = [.. seen.TakeLast(3)];
        if (atBaseline.Length == 0 || atEnd.Length == 0 || last <= from)
            throw new InvalidOperationException($"{dataset} {engine} {process}: no memory samples around round {from} or at the end (last round seen {last}); " +
                                                "raise --rounds or lower --interval");
        double MedianOf(IEnumerable<double> values) => Median([.. values]);
        var after = points.Where(p => p.Round >= from).ToArray();
        var (mx, my) = (after.Average(p => (double)p.Round), after.Average(p => p.Rss));
        var sxx = after.Sum(p => (p.Round - mx) * (p.Round - mx));
        var slope = sxx > 0 ? after.Sum(p => (p.Round - mx) * (p.Rss - my)) / sxx : 0;
        var baseline = MedianOf(atBaseline.Select(p => p.Rss));
        var final = MedianOf(atEnd.Select(p => p.Rss));
        return new SoakVerdict(dataset, engine, process, baseline, final, after.Max(p => p.Rss), slope * 10_000,
            MedianOf(atBaseline.Select(p => p.Managed)), MedianOf(atEnd.Select(p => p.Managed)),
            (long)MedianOf(atBaseline.Select(p => (double)p.Tensors)), (long)MedianOf(atEnd.Select(p => (double)p.Tensors)),
            (int)MedianOf(atBaseline.Select(p => (double)p.Threads)), (int)MedianOf(atEnd.Select(p => (double)p.Threads)),
            final <= baseline * (1 + budget / 100));
    }

    private sealed record SteerCount(int Ok = 0, int Refused = 0, int Unreachable = 0, string? LastError = null);

    /// <summary>
    /// Every <paramref name="every"/> until cancelled, a fresh connection to the control host at 127.0.0.1:<paramref name="port"/>
    /// that runs gan status, health, population, sample and checkpoint, as an operator's session would.
    /// </summary>
    private static async Task<SteerCount> SteerAsync(int port, TimeSpan every, CancellationToken ct)
    {
        string[][] commands = [["status"], ["health"], ["population"], ["sample", "-n", "200"], ["checkpoint"]];
        var count = new SteerCount();
        try
        {
            while (true)
            {
                await Task.Delay(every, ct).ConfigureAwait(false);
                try
                {
                    await using var client = await ControlClient.ConnectAsync("127.0.0.1", port, ct).ConfigureAwait(false);
                    foreach (var command in commands)
                    {
                        var result = await client.ExecuteAsync("gan", command[0], command[1..], ct: ct).ConfigureAwait(false);
                        count = result.Ok ? count with { Ok = count.Ok + 1 } : count with { Refused = count.Refused + 1, LastError = $"gan {command[0]}: {result.Error}" };
                    }
                }
                catch (Exception e) when (e is ControlConnectionException or ControlProtocolException or SocketException or IOException)
                {
                    // not up yet, or the run is ending
                    count = count with { Unreachable = count.Unreachable + 1 };
                }
            }
        }
        catch (OperationCanceledException)
        {
            return count;
        }
    }
}
