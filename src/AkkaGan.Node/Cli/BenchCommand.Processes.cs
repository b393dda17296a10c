using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace AkkaGan.Node.Cli;

/// <summary>
/// The benchmarks' child processes: a trainer or a cluster of node processes on loopback per measurement, each a fresh
/// process of this executable whose output goes to a log in the run folder, and all of them ended with the benchmark.
/// </summary>
public static partial class BenchCommand
{
    /// <summary>Logs of the measurement's processes (one file each, in its run folder).</summary>
    /// <param name="memory">A folder for the process's memory trace (<see cref="AkkaGan.Core.Diagnostics.MemoryTrace"/>, in MEMORY/train), or null.</param>
    /// <param name="environment">More environment variables for the process.</param>
    private static string[] RunTrain(string[] flags, string output, string? trace = null, string? memory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        Directory.CreateDirectory(output);
        var log = Path.Combine(output, "train.log");
        WaitFor(Start(["train", .. flags, "--out", output], log, trace, Within(memory, "train"), environment), "akkagan train", log);
        return [log];
    }

    /// <summary>
    /// <paramref name="flags"/> with rejection sampling off unless they set it: a throughput or memory measurement of
    /// <c>akkagan train</c> ends at its last round, not after ring8's or grid25's fit of a discriminator for rejection
    /// sampling (their dataset defaults; <c>akkagan node</c>, the process clusters, has none).
    /// </summary>
    private static string[] WithoutRejectionSampling(string[] flags)
        => flags.Any(f => f.StartsWith("--rejection-", StringComparison.Ordinal)) ? flags : [.. flags, "--rejection-sampling", "off"];

    /// <summary>
    /// A coordinator+generator node and <paramref name="discriminators"/> discriminator nodes, as deploy/local/run.sh
    /// starts them; the coordinator waits for all of them (<c>--discriminator-nodes</c>) and spreads the population over them.
    /// The discriminator nodes' control hosts take any free port, so a <c>--control-port</c> in <paramref name="flags"/> is the coordinator's.
    /// </summary>
    private static string[] RunProcesses(int discriminators, string[] flags, string output, string? trace = null, string? memory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        Directory.CreateDirectory(output);
        var seed = $"127.0.0.1:{FreePort()}";
        var port = seed.Split(':')[1];
        var workers = new List<Child>();
        var coordinatorLog = Path.Combine(output, "coordinator.log");
        try
        {
            for (var i = 0; i < discriminators; i++)
                workers.Add(Start(["node", "--roles", "discriminator", "--port", "0", "--seeds", seed, "--control-port", "0"],
                    Path.Combine(output, $"discriminator-{i + 1}.log"), trace, Within(memory, $"discriminator-{i + 1}"), environment));
            var coordinator = Start(["node", "--roles", "coordinator,generator", "--port", port, "--seeds", seed,
                "--discriminator-nodes", discriminators.ToString(CultureInfo.InvariantCulture), .. flags, "--out", output], coordinatorLog, trace,
                Within(memory, "coordinator"), environment);
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
    /// <param name="memory">A folder for the process's memory trace (<see cref="AkkaGan.Core.Diagnostics.MemoryTrace"/>), or null.</param>
    /// <param name="environment">More environment variables for the process.</param>
    private static Child Start(string[] args, string log, string? trace = null, string? memory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var self = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(self) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(BenchCommand).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["CI"] = "true"; // plain log lines, no live progress bar
        if (trace is not null) start.Environment[AkkaGan.Cluster.Diagnostics.RoundTrace.Variable] = trace;
        if (memory is not null) start.Environment[AkkaGan.Core.Diagnostics.MemoryTrace.Variable] = memory;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
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

    /// <summary>A log's lines, readable while its writer may still hold it.</summary>
    private static IEnumerable<string> ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line) yield return line;
    }

    private static string? Within(string? folder, string name) => folder is null ? null : Path.Combine(folder, name);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
