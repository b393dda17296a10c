using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace AkkaGan.Integration.Tests;

/// <summary>
/// A 3-process cluster whose nodes are given contact points instead of seed nodes (<c>--contact-points</c>, the config
/// discovery method): they find each other, form one cluster on the lowest contact point and train; a node's
/// <c>/ready</c> turns healthy only once it is Up.
/// </summary>
public sealed class DiscoveryClusterSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-discovery-it-").FullName;

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Nodes_given_only_contact_points_should_find_each_other_train_and_turn_ready_once_up()
    {
        var ports = Enumerable.Range(0, 3).Select(_ => Akkagan.FreePort()).ToArray();
        var health = Akkagan.FreePort();
        var points = string.Join(",", ports.Select(p => $"127.0.0.1:{p}"));
        string Port(int i) => ports[i].ToString(CultureInfo.InvariantCulture);
        var logs = new[] { new StringBuilder(), new StringBuilder() };
        var workers = new List<Process>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            workers.Add(Akkagan.StartCapturing(["node", "--roles", "discriminator", "--port", Port(1), "--contact-points", points,
                "--health-port", health.ToString(CultureInfo.InvariantCulture), "--control-port", "0"], logs[0]));
            // Alone, the node cannot be in a cluster (two more contact points must answer first): its first readiness answer says so.
            var (code, body) = await ReadyAsync(http, health, workers[0], logs[0], _ => true);
            Assert.True(code == HttpStatusCode.ServiceUnavailable, body);
            Assert.Contains("\"status\":\"not ready: this node is", body, StringComparison.Ordinal);

            workers.Add(Akkagan.StartCapturing(["node", "--roles", "discriminator", "--port", Port(2), "--contact-points", points, "--control-port", "0"], logs[1]));
            var coordinator = Akkagan.Run(TimeSpan.FromMinutes(4),
                ["node", "--roles", "coordinator,generator", "--port", Port(0), "--contact-points", points, "--discriminator-nodes", "2",
                 "--rounds", "60", "--batch", "64", "--eval-every", "60", "--control-port", "0", "--out", Path.Combine(_dir, "run")]);
            Assert.True(coordinator.ExitCode == 0, coordinator.All + Text(logs));
            Assert.Contains("discovery config (3 contact points, 2 required)", coordinator.Stdout, StringComparison.Ordinal);

            // Up now (it served the run's discriminator or stood by for it): ready, and saying so.
            (code, body) = await ReadyAsync(http, health, workers[0], logs[0], c => c == HttpStatusCode.OK);
            Assert.Contains("\"member\":\"Up\"", body, StringComparison.Ordinal);

            // Exactly one node formed the cluster, the lowest contact point; the others joined it.
            var outputs = new[] { coordinator.Stdout }.Concat(logs.Select(l => { lock (l) return l.ToString(); })).ToArray();
            var lowest = Array.IndexOf(ports, ports.Min());
            Assert.Contains("discovery: forming a new cluster", outputs[lowest], StringComparison.Ordinal);
            for (var i = 0; i < 3; i++)
            {
                if (i == lowest) continue;
                Assert.DoesNotContain("forming a new cluster", outputs[i], StringComparison.Ordinal);
                Assert.Contains($"discovery: joining the cluster of 127.0.0.1:{ports[lowest]}", outputs[i], StringComparison.Ordinal);
            }
            Assert.Contains("placement: d-0 @ akka.tcp://akkagan@127.0.0.1:", coordinator.Stdout, StringComparison.Ordinal);

            foreach (var worker in workers)
                using (var kill = Process.Start("kill", ["-TERM", worker.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
            foreach (var worker in workers)
                Assert.True(worker.WaitForExit(60_000), "a discriminator node did not stop after SIGTERM" + Text(logs));
        }
        finally
        {
            foreach (var worker in workers.Where(w => !w.HasExited)) worker.Kill(entireProcessTree: true);
            foreach (var worker in workers) worker.Dispose();
        }
    }

    /// <summary>GET /ready until the endpoint answers with a code <paramref name="until"/> accepts (the node's start and its joining are the events waited for).</summary>
    private static async Task<(HttpStatusCode Code, string Body)> ReadyAsync(HttpClient http, int port, Process node, StringBuilder log, Func<HttpStatusCode, bool> until)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            Assert.False(node.HasExited, "the node exited:\n" + log);
            Assert.True(DateTime.UtcNow < deadline, "/ready never gave the answer expected:\n" + log);
            try
            {
                using var response = await http.GetAsync($"http://127.0.0.1:{port}/ready", TestContext.Current.CancellationToken);
                var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
                if (until(response.StatusCode)) return (response.StatusCode, body);
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }

    private static string Text(StringBuilder[] logs)
        => string.Concat(logs.Select((l, i) => { lock (l) return $"\ndiscriminator node {i + 1}:\n{l}"; }));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
