using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace AkkaGan.Integration.Tests;

/// <summary>
/// One training on three real <c>akkagan</c> processes on loopback, the cluster deploy/local/run.sh starts: a
/// coordinator+generator node on the seed port and two discriminator nodes on any free port, every one with the same
/// torch thread count. Returns once the training ended and both discriminator nodes left the cluster on SIGTERM.
/// </summary>
internal static partial class ThreeProcessCluster
{
    /// <param name="SeedAddress">The coordinator+generator node's address.</param>
    /// <param name="Placement">Where each entity ran, from the coordinator's <c>placement:</c> line (<c>d-0</c> -> its node's address).</param>
    /// <param name="Discriminators">What each discriminator node printed, start to exit.</param>
    public sealed record Outcome(Akkagan.Result Coordinator, string SeedAddress, IReadOnlyDictionary<string, string> Placement, IReadOnlyList<string> Discriminators);

    /// <summary>Trains with <paramref name="training"/> (flags of <c>akkagan train</c>) into <paramref name="outDir"/>; asserts the run completed.</summary>
    public static Outcome Train(string[] training, int torchThreads, string outDir)
    {
        var threads = torchThreads.ToString(CultureInfo.InvariantCulture);
        // Only the seed needs a known port; every other node takes any free one (a port picked here could be taken by
        // a parallel test before the node binds it).
        var seed = Akkagan.FreePort();
        var seeds = $"127.0.0.1:{seed}";
        var logs = new[] { new StringBuilder(), new StringBuilder() };
        var workers = new List<Process>();
        try
        {
            foreach (var log in logs)
                workers.Add(Akkagan.StartCapturing(["node", "--roles", "discriminator", "--port", "0", "--seeds", seeds, "--torch-threads", threads], log));
            var coordinator = Akkagan.Run(TimeSpan.FromMinutes(4),
                ["node", "--roles", "coordinator,generator", "--port", seed.ToString(CultureInfo.InvariantCulture), "--seeds", seeds,
                 "--discriminator-nodes", "2", .. training, "--torch-threads", threads, "--out", outDir]);
            Assert.True(coordinator.ExitCode == 0, coordinator.All + Text(logs, workers));

            // Discriminator nodes leave the cluster cleanly on SIGTERM.
            foreach (var worker in workers)
                using (var kill = Process.Start("kill", ["-TERM", worker.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
            foreach (var worker in workers)
            {
                Assert.True(worker.WaitForExit(60_000), "a discriminator node did not stop after SIGTERM" + Text(logs, workers));
                worker.WaitForExit(); // the last output lines are in the logs only after this
                Assert.True(worker.ExitCode == 0, Text(logs, workers));
            }
            var texts = logs.Select(l => { lock (l) return l.ToString(); }).ToArray();
            // Each discriminator node took the thread count it was given (a serving node's own setting, not the run's).
            foreach (var text in texts) Assert.Contains($"torch threads {threads};", text, StringComparison.Ordinal);

            var placement = coordinator.Stdout.Split('\n').Single(l => l.Contains("placement:", StringComparison.Ordinal));
            return new Outcome(coordinator, $"akka.tcp://akkagan@127.0.0.1:{seed}",
                PlacementPattern().Matches(placement).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value), texts);
        }
        finally
        {
            foreach (var worker in workers.Where(w => !w.HasExited)) worker.Kill(entireProcessTree: true);
            foreach (var worker in workers) worker.Dispose();
        }
    }

    private static string Text(StringBuilder[] logs, List<Process> workers)
    {
        var text = new StringBuilder();
        for (var i = 0; i < workers.Count; i++)
        {
            lock (logs[i]) text.Append("\ndiscriminator node ").Append(i + 1).Append(workers[i].HasExited ? $" (exited {workers[i].ExitCode})" : "").Append(":\n").Append(logs[i]);
        }
        return text.ToString();
    }

    [GeneratedRegex(@"([dg]-\d+) @ (\S+?)(,|$|\s)")]
    private static partial Regex PlacementPattern();
}
