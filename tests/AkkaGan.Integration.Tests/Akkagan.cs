using System.Diagnostics;

namespace AkkaGan.Integration.Tests;

/// <summary>Runs the built <c>akkagan</c> executable (same configuration as these tests) as a child process.</summary>
internal static class Akkagan
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string All => Stdout + Stderr;
    }

    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>
    /// --rounds of a run that only the test ends (gan stop, SIGTERM, a stop script): tests wait for the events they
    /// check, never race a number of rounds, so a faster machine cannot finish the run first.
    /// </summary>
    public const string Endless = "1000000000";

    public static string Dll
    {
        get
        {
            // tests/AkkaGan.Integration.Tests/bin/<Configuration>/net10.0/
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            var path = Path.Combine(RepositoryRoot, "src", "AkkaGan.Node", "bin", configuration, "net10.0", "akkagan.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"build the solution first: {path} is missing");
        }
    }

    public static Result Run(params string[] args) => Run(TimeSpan.FromMinutes(3), args);

    /// <summary>The decoded-image cache of every akkagan process the specs start (one per test process).</summary>
    public static string DataCache { get; } = Path.Combine(Path.GetTempPath(), $"akkagan-it-data-cache-{Environment.ProcessId}");

    /// <summary>A TCP port on 127.0.0.1 reserved for this test (seeds and control hosts of the processes it starts): see <see cref="Testing.FreePorts"/>.</summary>
    public static int FreePort() => Testing.FreePorts.Next();

    /// <summary>The built akkagan-ctl (same configuration as these tests).</summary>
    public static string CtlDll
    {
        get
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            var path = Path.Combine(RepositoryRoot, "src", "AkkaGan.Ctl", "bin", configuration, "net10.0", "akkagan-ctl.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"build the solution first: {path} is missing");
        }
    }

    /// <summary>Runs akkagan-ctl to its end.</summary>
    public static Result Ctl(params string[] args)
    {
        using var process = StartCtl(args, out var stdout, out var stderr);
        if (!process.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"akkagan-ctl {string.Join(' ', args)} did not finish within a minute");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts akkagan-ctl; its whole output is in the tasks once it exits.</summary>
    public static Process StartCtl(string[] args, out Task<string> stdout, out Task<string> stderr)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        start.ArgumentList.Add(CtlDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        process.StandardInput.Close();
        stdout = process.StandardOutput.ReadToEndAsync();
        stderr = process.StandardError.ReadToEndAsync();
        return process;
    }

    /// <summary>Starts akkagan-ctl; its stdout and stderr lines are appended to <paramref name="output"/> as they come (lock it to read).</summary>
    public static Process StartCtlCapturing(string[] args, System.Text.StringBuilder output)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        start.ArgumentList.Add(CtlDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        process.StandardInput.Close();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Starts akkagan without waiting (output read and discarded); the caller owns the process.</summary>
    public static Process Start(string[] args)
    {
        var process = Process.Start(StartInfo(args, redirect: true))!;
        process.StandardInput.Close();
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>
    /// Starts akkagan without waiting; its stdout and stderr lines are appended to <paramref name="output"/> (lock it to
    /// read); each line pulses the lock, so a reader can <see cref="Monitor.Wait(object, TimeSpan)"/> for the next one.
    /// </summary>
    public static Process StartCapturing(string[] args, System.Text.StringBuilder output)
    {
        var process = Process.Start(StartInfo(args, redirect: true))!;
        process.StandardInput.Close();
        void Append(string? line)
        {
            if (line is null) return;
            lock (output)
            {
                output.AppendLine(line);
                Monitor.PulseAll(output);
            }
        }
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public static Result Run(TimeSpan timeout, params string[] args)
    {
        using var process = Process.Start(StartInfo(args, redirect: true))!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"akkagan {string.Join(' ', args)} did not finish within {timeout}");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static ProcessStartInfo StartInfo(string[] args, bool redirect)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = redirect, RedirectStandardError = redirect, RedirectStandardInput = redirect, UseShellExecute = false,
        };
        start.ArgumentList.Add(Dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        // ring8 and grid25 fit a discriminator for rejection sampling after a run's last round (10,000-20,000 steps, 5-100 s):
        // the specs' short runs leave it out unless they test it (RejectionSamplingRunSpecs sets it).
        if (args is ["train", ..] && !args.Any(a => a.StartsWith("--rejection-", StringComparison.Ordinal)))
        {
            start.ArgumentList.Add("--rejection-sampling");
            start.ArgumentList.Add("off");
        }
        start.Environment["CI"] = "true";
        // Decoded image folders go to a cache of the test run's own, not the user's ~/.cache.
        start.Environment["AKKAGAN_DATA_CACHE"] = DataCache;
        return start;
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AkkaGan.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("AkkaGan.sln not found above the test folder");
    }
}
