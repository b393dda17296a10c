using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using AkkaGan.Core.Settings;
using Spectre.Console;

namespace AkkaGan.Node.Cli;

/// <summary>
/// <c>akkagan bench ctl</c>: the wall time of <c>akkagan-ctl HOST:PORT cluster show</c> against a running node, each
/// run a fresh process as an operator's would be, beside <c>akkagan-ctl --version</c> (the same process start-up
/// without a connection), alternating; and whether akkagan-ctl's folder holds TorchSharp or libtorch, which it must
/// not load.
/// </summary>
public static partial class BenchCommand
{
    /// <summary>The issue's target for a one-shot command, start-up included.</summary>
    private const double CtlTargetMilliseconds = 1000;

    private static Command CreateCtl()
    {
        var ctl = new Command("ctl",
            "Wall time of `akkagan-ctl HOST:PORT cluster show` against a node this benchmark starts (target: under 1 s), beside " +
            "`akkagan-ctl --version` (process start-up alone), each a fresh process, alternating; prints medians.");
        var repetitions = new Option<int>("--repetitions") { Description = "Runs of each command", HelpName = "N", DefaultValueFactory = _ => 10 };
        var path = new Option<string?>("--ctl")
        {
            Description = "The akkagan-ctl to time: an executable or akkagan-ctl.dll (default: akkagan-ctl on PATH, else this build's)",
            HelpName = "PATH",
        };
        var json = new Option<string?>("--json") { Description = "Also write the medians to this JSON file", HelpName = "FILE" };
        ctl.Options.Add(repetitions);
        ctl.Options.Add(path);
        ctl.Options.Add(json);
        ctl.SetAction(parse => RunCtl(parse.GetValue(repetitions), parse.GetValue(path), parse.GetValue(json)));
        return ctl;
    }

    private static int RunCtl(int repetitions, string? ctlPath, string? jsonFile)
    {
        if (repetitions < 1) throw new SettingsException($"--repetitions: {repetitions} (at least 1)");
        var (program, prefix) = ResolveCtl(ctlPath);
        var folder = Path.GetDirectoryName(Path.GetFullPath(prefix.Length > 0 ? prefix[0] : program)) ?? ".";
        var torch = Directory.EnumerateFiles(folder)
            .Where(f => Path.GetFileName(f) is var n && (n.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase) || n.StartsWith("libtorch", StringComparison.Ordinal)))
            .Select(Path.GetFileName).ToArray();
        var work = Directory.CreateTempSubdirectory("akkagan-bench-ctl-").FullName;
        var port = FreePort().ToString(CultureInfo.InvariantCulture);
        var endpoint = $"127.0.0.1:{port}";
        // Ctrl-C or SIGTERM ends the benchmark and the node it started, as for bench engines.
        using var onInt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, _ => KillChildren());
        using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, _ => KillChildren());
        var times = new Dictionary<string, List<double>> { ["version"] = [], ["cluster_show"] = [] };
        try
        {
            Console.WriteLine($"akkagan bench ctl: {program} {string.Join(' ', prefix)}, {repetitions} runs of each command against a one-node cluster at {endpoint}");
            using var node = Start(["node", "--roles", "discriminator", "--port", "0", "--control-port", port], Path.Combine(work, "node.log"));
            // The node is ready when its control host answers and it is Up (a first, untimed run also warms the disk cache).
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                var (code, output, _) = RunCtlOnce(program, [.. prefix, endpoint, "cluster", "show"]);
                if (code == 0 && output.Contains("1 member(s)", StringComparison.Ordinal)) break;
                if (node.Process.HasExited || DateTime.UtcNow > deadline)
                    throw new InvalidOperationException($"the node's control host at {endpoint} did not answer `cluster show` within 60 s (log {work}/node.log)");
                Thread.Sleep(250);
            }
            for (var i = 0; i < repetitions; i++)
            {
                times["version"].Add(Timed(program, [.. prefix, "--version"], null));
                times["cluster_show"].Add(Timed(program, [.. prefix, endpoint, "cluster", "show"], "1 member(s)"));
            }
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"akkagan: error: bench ctl: {e.Message}");
            return 1;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }

        var show = Median(times["cluster_show"]);
        var table = new Table().Title("[bold]akkagan-ctl wall time, ms (a fresh process each run)[/]").AddColumn("command")
            .AddColumn("median", c => c.RightAligned()).AddColumn("min", c => c.RightAligned()).AddColumn("max", c => c.RightAligned())
            .AddColumn("target", c => c.RightAligned());
        // Short labels: the endpoint is in the first line, and an 80-column table must not wrap a command in two.
        table.AddRow("--version", F(Median(times["version"]), "F0"), F(times["version"].Min(), "F0"), F(times["version"].Max(), "F0"), "");
        table.AddRow("HOST:PORT cluster show", F(show, "F0"), F(times["cluster_show"].Min(), "F0"), F(times["cluster_show"].Max(), "F0"),
            show < CtlTargetMilliseconds ? $"[green]{CtlTargetMilliseconds:F0} met[/]" : $"[red]{CtlTargetMilliseconds:F0} missed[/]");
        AnsiConsole.Write(table);
        Console.WriteLine(torch.Length == 0
            ? $"akkagan-ctl's folder ({folder}) holds no TorchSharp or libtorch file: it cannot load libtorch"
            : $"warning: akkagan-ctl's folder holds {string.Join(", ", torch)}");
        Console.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} (1 min) on {Environment.ProcessorCount} cores");

        if (jsonFile is not null)
        {
            var report = new JsonObject
            {
                ["schema"] = "akkagan.bench.ctl/1",
                ["repetitions"] = repetitions,
                ["ctl"] = string.Join(' ', [program, .. prefix]),
                ["version_ms_median"] = Math.Round(Median(times["version"]), 1),
                ["cluster_show_ms_median"] = Math.Round(show, 1),
                ["cluster_show_ms_max"] = Math.Round(times["cluster_show"].Max(), 1),
                ["target_ms"] = CtlTargetMilliseconds,
                ["torch_files_beside_ctl"] = new JsonArray([.. torch.Select(t => (JsonNode)t!)]),
                ["samples_ms"] = Samples(times.Select(t => (t.Key, t.Value.AsEnumerable())), 1),
            };
            WriteReport(jsonFile, report);
        }
        return 0;
    }

    /// <summary>
    /// The program to start and the arguments before akkagan-ctl's own: <c>--ctl</c>, else <c>akkagan-ctl</c> on PATH,
    /// else the akkagan-ctl this repository built beside this program (src/AkkaGan.Ctl/bin/CONFIG/TFM).
    /// </summary>
    private static (string Program, string[] Prefix) ResolveCtl(string? given)
    {
        static (string, string[]) Launch(string path) => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? ("dotnet", [path]) : (path, []);
        if (given is not null)
            return File.Exists(given) ? Launch(Path.GetFullPath(given)) : throw new SettingsException($"--ctl: no file '{given}'");
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "akkagan-ctl")).FirstOrDefault(File.Exists);
        if (onPath is not null) return (onPath, []);
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var built = tfm.Parent?.Parent?.Parent?.Parent is { } src
            ? Path.Combine(src.FullName, "AkkaGan.Ctl", "bin", tfm.Parent!.Name, tfm.Name, "akkagan-ctl.dll")
            : null;
        return built is not null && File.Exists(built)
            ? Launch(built)
            : throw new SettingsException("bench ctl: no akkagan-ctl on PATH or in this build (src/AkkaGan.Ctl/bin); give one with --ctl PATH");
    }

    /// <summary>Milliseconds from starting the process to its exit; a failed run is an error naming its output.</summary>
    private static double Timed(string program, string[] args, string? expected)
    {
        var clock = Stopwatch.StartNew();
        var (code, output, error) = RunCtlOnce(program, args);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        if (code != 0 || (expected is not null && !output.Contains(expected, StringComparison.Ordinal)))
            throw new InvalidOperationException($"`{string.Join(' ', args)}` exited with {code}: {output}{error}");
        return elapsed;
    }

    private static (int Code, string Output, string Error) RunCtlOnce(string program, string[] args)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error.GetAwaiter().GetResult());
    }
}
