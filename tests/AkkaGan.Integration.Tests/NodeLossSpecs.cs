using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace AkkaGan.Integration.Tests;

/// <summary>kill -9 of a discriminator process mid-run (real processes on loopback): the run goes on and completes.</summary>
public sealed class NodeLossSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-loss-").FullName;

    private string Out(string name) => Path.Combine(_dir, name);

    /// <param name="sharedStore">Every process names one SQLite file as its state store (several processes writing it at
    /// once): the lost member loads its own snapshot there. Without, only the coordinator's node has a store (its run's
    /// state.db) and the coordinator sends the member its state.</param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    [Trait("Category", "Slow")]
    public void Killing_a_discriminator_process_should_cost_rounds_of_its_members_and_never_the_run(bool sharedStore)
    {
        // Faster fault handling than the defaults, so the test takes seconds rather than a minute.
        var config = Out("fast-faults.hocon");
        File.WriteAllText(config, """
            akkagan.cluster.step-timeout = 3s
            akka.cluster.split-brain-resolver.stable-after = 5s
            """ + (sharedStore ? $"\nakkagan.persistence.connection-string = \"Data Source={Out("shared-state.db")}\"\n" : ""));
        var seed = Akkagan.FreePort();
        var seeds = $"127.0.0.1:{seed}";
        var workers = new Dictionary<string, Process>();
        var workerOutput = new Dictionary<string, StringBuilder>();
        var output = new StringBuilder();
        Process? coordinator = null;
        try
        {
            // The discriminator nodes take any free port (a port picked here and bound later by another process can be
            // taken in between by a parallel test); each prints its address, which identifies the victim below.
            foreach (var name in new[] { "discriminator-1", "discriminator-2" })
            {
                workerOutput[name] = new StringBuilder();
                workers[name] = Akkagan.StartCapturing(
                    ["node", "--roles", "discriminator", "--port", "0", "--seeds", seeds, "--config", config, "--control-port", "0"],
                    workerOutput[name]);
            }
            coordinator = Akkagan.StartCapturing(
                ["node", "--roles", "coordinator,generator", "--port", seed.ToString(CultureInfo.InvariantCulture), "--seeds", seeds, "--config", config,
                 "--discriminator-nodes", "2", "--control-port", "0", "--rounds", "1500", "--batch", "64", "--unroll", "0", "--discriminators", "2",
                 "--eval-every", "500", "--eval-samples", "500", "--checkpoint-every", "50", "--out", Out("run")], output);

            // Once the first checkpoints are written, kill the process that runs d-0.
            string Coordinator()
            {
                lock (output) return output.ToString();
            }
            // What every process printed, so a failure says which node did what.
            string Text()
            {
                var text = new StringBuilder("coordinator,generator:\n").Append(Coordinator());
                foreach (var (name, log) in workerOutput)
                {
                    lock (log) text.Append('\n').Append(name).Append(workers[name].HasExited ? $" (exited {workers[name].ExitCode})" : "").Append(":\n").Append(log);
                }
                return text.ToString();
            }
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (!System.Text.RegularExpressions.Regex.IsMatch(Coordinator(), @"round (1\d\d|[2-9]\d\d): checkpoint") && DateTime.UtcNow < deadline && !coordinator.HasExited && workers.Values.All(w => !w.HasExited))
                Thread.Sleep(100);
            var placement = System.Text.RegularExpressions.Regex.Match(Coordinator(), @"d-0 @ (\S+?)(,|\s|$)");
            Assert.True(placement.Success, Text());
            var victimName = workerOutput.Single(w =>
            {
                lock (w.Value) return w.Value.ToString().Contains($"akkagan node {placement.Groups[1].Value}:", StringComparison.Ordinal);
            }).Key;
            var victim = workers[victimName];
            Assert.False(coordinator.HasExited, Text());
            victim.Kill(); // SIGKILL: no goodbye to the cluster

            Assert.True(coordinator.WaitForExit(240_000), "the training did not finish after the node loss:\n" + Text());
            Assert.True(coordinator.ExitCode == 0, Text());
        }
        finally
        {
            if (coordinator is { HasExited: false }) coordinator.Kill(entireProcessTree: true);
            foreach (var worker in workers.Values.Where(w => !w.HasExited)) worker.Kill(entireProcessTree: true);
        }

        var summary = JsonNode.Parse(File.ReadAllText(Out("run/summary.json")))!;
        Assert.True(summary["completed"]!.GetValue<bool>());
        Assert.Equal(1500, summary["rounds"]!.GetValue<long>());
        var faults = summary["faults"]!.AsArray().Select(f => (Entity: f!["entity"]!.GetValue<string>(), Fault: f["fault"]!.GetValue<string>(), Detail: f["detail"]!.GetValue<string>())).ToList();
        Assert.Contains(faults, f => f is { Entity: "d-0", Fault: "suspended" });
        var recovered = Assert.Single(faults, f => f.Entity == "d-0" && f.Fault == "recovered");
        Assert.Contains(sharedStore ? "in the state store" : "restored from the checkpoint of round", recovered.Detail, StringComparison.Ordinal);
        Assert.Equal(sharedStore, File.Exists(Out("shared-state.db")));
        Assert.DoesNotContain(faults, f => f.Fault == "rolled-back");
        // The run is still a working GAN: losses in the range of a plain GAN's equilibrium (D near log 4 = 1.39), not
        // diverged nor saturated (mode coverage is no criterion: a plain GAN on ring8 collapses, faults or not).
        var lossG = summary["generator_loss"]!.GetValue<double>();
        var lossD = summary["discriminator_loss"]!.GetValue<double>();
        Assert.True(lossG is > 0.1 and < 5 && lossD is > 0.3 and < 3, summary.ToJsonString());
        Assert.Contains("\"event\":\"fault\"", File.ReadAllText(Out("run/metrics.jsonl")));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Killing_the_coordinators_process_should_let_a_standby_coordinator_finish_the_run()
    {
        var config = Out("failover.hocon");
        File.WriteAllText(config, $$"""
            akkagan.cluster.step-timeout = 3s
            akka.cluster.split-brain-resolver.stable-after = 5s
            akkagan.persistence { connection-string = "Data Source={{Out("state.db")}}", run-id = "failover-spec" }
            """);
        var seed = Akkagan.FreePort();
        var seeds = $"127.0.0.1:{seed}";
        string[] training = ["--discriminator-nodes", "1", "--control-port", "0", "--rounds", "600", "--batch", "64", "--unroll", "0",
            "--eval-every", "300", "--eval-samples", "300", "--checkpoint-every", "50", "--torch-threads", "1"];
        var logs = new Dictionary<string, StringBuilder> { ["discriminator"] = new(), ["primary"] = new(), ["standby"] = new(), ["restarted"] = new() };
        var processes = new Dictionary<string, Process>();
        var killed = new HashSet<string>();
        string Log(string name)
        {
            lock (logs[name]) return logs[name].ToString();
        }
        // Where a process's control host listens (it prints this at start).
        string ControlOf(string name) => System.Text.RegularExpressions.Regex.Match(Log(name), @"control: akkagan-ctl (127\.0\.0\.1:\d+)").Groups[1].Value;
        string All() => string.Join("\n", logs.Keys.Select(k => $"{k}{(processes.TryGetValue(k, out var p) && p.HasExited ? $" (exited {p.ExitCode})" : "")}:\n{Log(k)}"));
        void WaitFor(string name, string pattern, int seconds)
        {
            var deadline = DateTime.UtcNow.AddSeconds(seconds);
            // A process that exits unasked (not one this test killed) ends the wait at once.
            while (!System.Text.RegularExpressions.Regex.IsMatch(Log(name), pattern) && DateTime.UtcNow < deadline
                   && processes.Where(p => !killed.Contains(p.Key)).All(p => !p.Value.HasExited))
                Thread.Sleep(100);
            Assert.True(System.Text.RegularExpressions.Regex.IsMatch(Log(name), pattern), $"no '{pattern}' from {name}:\n{All()}");
        }
        try
        {
            processes["discriminator"] = Akkagan.StartCapturing(
                ["node", "--roles", "discriminator", "--port", "0", "--seeds", seeds, "--config", config, "--control-port", "0"], logs["discriminator"]);
            processes["primary"] = Akkagan.StartCapturing(
                ["node", "--roles", "coordinator,generator", "--port", seed.ToString(CultureInfo.InvariantCulture), "--seeds", seeds, "--config", config,
                 .. training, "--out", Out("primary")], logs["primary"]);
            WaitFor("primary", @"training rounds|round \d+", 120);
            // The standby joins later, so it is the younger coordinator node: the singleton stays on the primary.
            processes["standby"] = Akkagan.StartCapturing(
                ["node", "--roles", "coordinator,generator", "--standby", "--port", "0", "--seeds", seeds, "--config", config,
                 .. training, "--out", Out("standby")], logs["standby"]);
            WaitFor("standby", "standby: the coordinator runs on akka", 120);   // a member that sees the primary Up
            // Until it takes over, the standby's gan commands are the running training's (its own is still at round 0).
            var standbyControl = ControlOf("standby");
            var viaStandby = Akkagan.Ctl(standbyControl, "gan", "status");
            for (var deadline = DateTime.UtcNow.AddSeconds(60); !viaStandby.Stdout.Contains("phase      training", StringComparison.Ordinal) && DateTime.UtcNow < deadline;)
            {
                Thread.Sleep(200); // the primary may still be placing its entities
                viaStandby = Akkagan.Ctl(standbyControl, "gan", "status");
            }
            Assert.True(viaStandby.Stdout.Contains("phase      training (engine cluster", StringComparison.Ordinal), viaStandby.All + All());
            WaitFor("primary", @"round (1\d\d|[2-5]\d\d): checkpoint", 120);
            processes["primary"].Kill(); // SIGKILL: the coordinator, its outputs and the generator go with it
            killed.Add("primary");

            // The lost node restarted by its orchestrator, without --standby: it finds the run going on and stands by for
            // it. The run is paused meanwhile (which changes none of its numbers) so that it is still going on.
            WaitFor("standby", "taking the coordinator over", 120);
            Assert.Equal(0, Akkagan.Ctl(standbyControl, "gan", "pause").ExitCode);
            // Its seed is the standby (the primary's address is gone; a real deployment lists both, see README).
            var standbyNode = System.Text.RegularExpressions.Regex.Match(Log("standby"), @"node akka\.tcp://akkagan@(127\.0\.0\.1:\d+) up").Groups[1].Value;
            processes["restarted"] = Akkagan.StartCapturing(
                ["node", "--roles", "coordinator,generator", "--port", "0", "--seeds", standbyNode, "--config", config, .. training, "--out", Out("restarted")],
                logs["restarted"]);
            WaitFor("restarted", "a training already runs on akka.tcp://akkagan@127.0.0.1:\\d+: this node stands by for run failover-spec", 120);
            var restartedControl = ControlOf("restarted");
            var viaRestarted = Akkagan.Ctl(restartedControl, "gan", "status");
            Assert.True(viaRestarted.Stdout.Contains("phase      paused", StringComparison.Ordinal), viaRestarted.All + All());
            processes["restarted"].Kill();
            killed.Add("restarted");
            Assert.Equal(0, Akkagan.Ctl(standbyControl, "gan", "resume").ExitCode);

            Assert.True(processes["standby"].WaitForExit(240_000), "the standby did not finish the run:\n" + All());
            Assert.True(processes["standby"].ExitCode == 0, All());
        }
        finally
        {
            foreach (var process in processes.Values.Where(p => !p.HasExited)) process.Kill(entireProcessTree: true);
        }
        Assert.Contains("taking the coordinator over: run failover-spec continues from the state store's position", Log("standby"));
        var summary = JsonNode.Parse(File.ReadAllText(Out("standby/summary.json")))!;
        Assert.True(summary["completed"]!.GetValue<bool>());
        Assert.Equal(600, summary["rounds"]!.GetValue<long>());
        Assert.Contains(summary["faults"]!.AsArray(), f => f!["fault"]!.GetValue<string>() == "resumed");

        // Continued from the stored checkpoint, the run ends where an uninterrupted one does.
        var reference = Akkagan.Run(["train", "--engine", "reference", "--rounds", "600", "--batch", "64", "--unroll", "0", "--eval-every", "300",
            "--eval-samples", "300", "--checkpoint-every", "50", "--torch-threads", "1", "--out", Out("reference")]);
        Assert.True(reference.ExitCode == 0, reference.All);
        var expected = JsonNode.Parse(File.ReadAllText(Out("reference/summary.json")))!;
        foreach (var key in new[] { "high_quality_fraction", "reverse_kl", "generator_loss", "discriminator_loss" })
            Assert.Equal(expected[key]!.GetValue<double>(), summary[key]!.GetValue<double>());
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
