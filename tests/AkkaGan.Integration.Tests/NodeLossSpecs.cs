using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AkkaGan.Integration.Tests;

/// <summary>
/// kill -9 of a discriminator's or the coordinator's process mid-run (real processes on loopback): the run goes on.
/// The runs are endless (far more rounds than any test plays, learning rate constant) and stopped with <c>gan stop</c>
/// once the event under test happened, so a faster or slower machine cannot finish them before the fault.
/// </summary>
public abstract class NodeLossFixture : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-loss-").FullName;

    protected string Out(string name) => Path.Combine(_dir, name);

    /// <summary>The processes of one test, each with what it printed so far.</summary>
    protected sealed class Processes : IDisposable
    {
        private readonly Dictionary<string, (Process Process, StringBuilder Log)> _all = [];
        private readonly HashSet<string> _killed = [];

        public void Start(string name, string[] args)
        {
            var log = new StringBuilder();
            _all[name] = (Akkagan.StartCapturing(args, log), log);
        }

        public Process this[string name] => _all[name].Process;

        public string Log(string name)
        {
            var log = _all[name].Log;
            lock (log) return log.ToString();
        }

        /// <summary>What every process printed, so that a failure says which node did what.</summary>
        public string All() => string.Join("\n", _all.Select(p => $"{p.Key}{(p.Value.Process.HasExited ? $" (exited {p.Value.Process.ExitCode})" : "")}:\n{Log(p.Key)}"));

        /// <summary>SIGTERM, then its exit within <paramref name="seconds"/> (a bound on the stop, not a timing: it normally takes about 3 s).</summary>
        public void Terminate(string name, int seconds = 60)
        {
            _killed.Add(name);
            using (var kill = Process.Start("kill", ["-TERM", this[name].Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
            Assert.True(this[name].WaitForExit(seconds * 1000), $"{name} did not end within {seconds} s of SIGTERM:\n{All()}");
        }

        /// <summary>SIGKILL: no goodbye to the cluster.</summary>
        public void Kill(string name)
        {
            _killed.Add(name);
            this[name].Kill();
        }

        /// <summary>
        /// Waits for <paramref name="pattern"/> in a process's output, woken by each line it prints; a process that exits
        /// unasked ends the wait (checked at least every second, since an exit prints nothing).
        /// </summary>
        public Match WaitFor(string name, string pattern, int seconds = 120)
        {
            var deadline = DateTime.UtcNow.AddSeconds(seconds);
            var log = _all[name].Log;
            Match match;
            lock (log)
            {
                while (!(match = Regex.Match(log.ToString(), pattern)).Success && DateTime.UtcNow < deadline
                       && _all.Where(p => !_killed.Contains(p.Key)).All(p => !p.Value.Process.HasExited))
                    Monitor.Wait(log, TimeSpan.FromSeconds(1));
            }
            Assert.True(match.Success, $"no '{pattern}' from {name}:\n{All()}");
            return match;
        }

        /// <summary>Where a process's control host listens (it prints this at start).</summary>
        public string ControlOf(string name) => WaitFor(name, @"control: akkagan-ctl (127\.0\.0\.1:\d+)").Groups[1].Value;

        /// <summary><c>gan stop</c> through <paramref name="name"/>'s control port; the training ends as a stopped run (exit 130).</summary>
        public void StopTraining(string name)
        {
            var stop = Akkagan.Ctl(ControlOf(name), "gan", "stop");
            Assert.True(stop.ExitCode == 0, stop.All + All());
            Assert.True(this[name].WaitForExit(180_000), $"{name} did not stop after gan stop:\n{All()}");
            Assert.True(this[name].ExitCode == 130, All());
        }

        public void Dispose()
        {
            foreach (var (process, _) in _all.Values.Where(p => !p.Process.HasExited)) process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Waits until the run's coordinator position is in the SQLite state store (Akka.Persistence.Sql's snapshot table).</summary>
    protected static void WaitForStoredPosition(string database, string runId, Processes processes)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database};Mode=ReadOnly");
        connection.Open();
        using var query = connection.CreateCommand();
        query.CommandText = "SELECT COUNT(*) FROM snapshot WHERE persistence_id = $id";
        query.Parameters.AddWithValue("$id", $"{runId}/coordinator");
        while (Convert.ToInt64(query.ExecuteScalar(), CultureInfo.InvariantCulture) == 0 && DateTime.UtcNow < deadline) Thread.Sleep(100);
        Assert.True(Convert.ToInt64(query.ExecuteScalar(), CultureInfo.InvariantCulture) > 0, $"no position of run {runId} in {database}:\n{processes.All()}");
    }

    /// <summary>Asks for <c>gan status</c> until it shows <paramref name="expected"/> (the node may still be placing its entities).</summary>
    protected static void WaitForStatus(string control, string expected, Processes processes)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var status = Akkagan.Ctl(control, "gan", "status");
        while (!status.Stdout.Contains(expected, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(200);
            status = Akkagan.Ctl(control, "gan", "status");
        }
        Assert.True(status.Stdout.Contains(expected, StringComparison.Ordinal), status.All + processes.All());
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }
}

/// <summary>kill -9 of a discriminator's process mid-run: its members miss rounds, the run goes on.</summary>
public sealed class NodeLossSpecs : NodeLossFixture
{
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
        var seeds = $"127.0.0.1:{Akkagan.FreePort()}";
        using var processes = new Processes();
        // The discriminator nodes take any free port; each prints its address, which identifies the victim below.
        foreach (var name in new[] { "discriminator-1", "discriminator-2" })
            processes.Start(name, ["node", "--roles", "discriminator", "--port", "0", "--seeds", seeds, "--config", config, "--control-port", "0"]);
        processes.Start("coordinator",
            ["node", "--roles", "coordinator,generator", "--port", seeds.Split(':')[1], "--seeds", seeds, "--config", config,
             "--discriminator-nodes", "2", "--control-port", "0", "--rounds", Akkagan.Endless, "--lr-decay", "none", "--batch", "64", "--unroll", "0",
             "--discriminators", "2", "--eval-every", "500", "--eval-samples", "500", "--checkpoint-every", "50", "--out", Out("run")]);

        // Once the first checkpoints are written, kill the process that runs d-0.
        processes.WaitFor("coordinator", @"round \d+: checkpoint");
        var placement = processes.WaitFor("coordinator", @"d-0 @ (\S+?)(,|\s|$)").Groups[1].Value;
        var victim = new[] { "discriminator-1", "discriminator-2" }.Single(n => processes.Log(n).Contains($"akkagan node {placement}:", StringComparison.Ordinal));
        processes.Kill(victim);
        // The run goes on without d-0 (quorum 1) until it is restored; then both train again, and the test stops the run.
        processes.WaitFor("coordinator", @"round (\d+): d-0 recovered");
        processes.StopTraining("coordinator");

        var summary = JsonNode.Parse(File.ReadAllText(Out("run/summary.json")))!;
        Assert.False(summary["completed"]!.GetValue<bool>());
        var faults = summary["faults"]!.AsArray().Select(f => (Entity: f!["entity"]!.GetValue<string>(), Fault: f["fault"]!.GetValue<string>(), Detail: f["detail"]!.GetValue<string>())).ToList();
        var suspended = faults.First(f => f is { Entity: "d-0", Fault: "suspended" });
        var recovered = Assert.Single(faults, f => f.Entity == "d-0" && f.Fault == "recovered");
        // The failure detector's verdict on d-0's node is a fault of its own, saying what the run waits for.
        Assert.Contains(faults, f => f is { Entity: "d-0", Fault: "unreachable" } && f.Detail.Contains("the others train on", StringComparison.Ordinal));
        // The message names the round of the state d-0 got back: a checkpoint written while it was away keeps its older
        // state, and that state is from before the round it missed.
        var source = System.Text.RegularExpressions.Regex.Match(recovered.Detail,
            sharedStore ? @"restored from its own snapshot of round (\d+) in the state store" : @"restored from (?:the checkpoint|its state) of round (\d+)");
        Assert.True(source.Success, recovered.Detail);
        var missed = int.Parse(System.Text.RegularExpressions.Regex.Match(suspended.Detail, @"missed round (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(int.Parse(source.Groups[1].Value, CultureInfo.InvariantCulture) < missed, $"{recovered.Detail} / {suspended.Detail}");
        // And what d-0 lost: the rounds it trained after that state, up to the one it missed.
        var stateRound = int.Parse(source.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.Contains(stateRound < missed - 1 ? $"what it learned in rounds {stateRound + 1}..{missed - 1} is lost" : "nothing it learned is lost", recovered.Detail);
        Assert.Equal(sharedStore, File.Exists(Out("shared-state.db")));
        Assert.DoesNotContain(faults, f => f.Fault == "rolled-back");
        // The run is still a working GAN: finite losses in a plain GAN's range (D near log 4 = 1.39 at its equilibrium),
        // not diverged; mode coverage is no criterion (a plain GAN on ring8 collapses, faults or not).
        var lossG = summary["generator_loss"]!.GetValue<double>();
        var lossD = summary["discriminator_loss"]!.GetValue<double>();
        Assert.True(double.IsFinite(lossG) && lossG > 0 && double.IsFinite(lossD) && lossD > 0, summary.ToJsonString());
        Assert.Contains("\"event\":\"fault\"", File.ReadAllText(Out("run/metrics.jsonl")));
    }
}

/// <summary>The coordinator's process killed, or its run completed, with a standby coordinator node beside it.</summary>
public sealed class CoordinatorFailoverSpecs : NodeLossFixture
{
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
        string[] Training(string rounds) => ["--rounds", rounds, "--lr-decay", "none", "--batch", "64", "--unroll", "0", "--eval-every", "300",
            "--eval-samples", "300", "--checkpoint-every", "50", "--torch-threads", "1"];
        string[] training = ["--discriminator-nodes", "1", "--control-port", "0", .. Training(Akkagan.Endless)];
        using var processes = new Processes();
        processes.Start("discriminator", ["node", "--roles", "discriminator", "--port", "0", "--seeds", seeds, "--config", config, "--control-port", "0"]);
        processes.Start("primary", ["node", "--roles", "coordinator,generator", "--port", seed.ToString(CultureInfo.InvariantCulture), "--seeds", seeds,
            "--config", config, .. training, "--out", Out("primary")]);
        processes.WaitFor("primary", @"training rounds|round \d+");
        // The standby joins later, so it is the younger coordinator node: the singleton stays on the primary.
        processes.Start("standby", ["node", "--roles", "coordinator,generator", "--standby", "--port", "0", "--seeds", seeds, "--config", config,
            .. training, "--out", Out("standby")]);
        processes.WaitFor("standby", "standby: the coordinator runs on akka");   // a member that sees the primary Up
        // Until it takes over, the standby's gan commands are the running training's (its own is still at round 0).
        var standbyControl = processes.ControlOf("standby");
        WaitForStatus(standbyControl, "phase      training (engine cluster", processes);
        // Killed once the store holds the run's position (it is written after the checkpoint's line is printed).
        processes.WaitFor("primary", @"round \d+: checkpoint");
        WaitForStoredPosition(Out("state.db"), "failover-spec", processes);
        processes.Kill("primary"); // the coordinator, its outputs and the generator go with it

        // The standby continues the run once it has placed the entities again.
        processes.WaitFor("standby", @"coordinator resumed: run failover-spec continues from the state store's position of round \d+");
        // The lost node restarted by its orchestrator, without --standby: it finds the run going on and stands by for it.
        // Its seed is the standby (the primary's address is gone; a real deployment lists both, see README).
        var standbyNode = processes.WaitFor("standby", @"node akka\.tcp://akkagan@(127\.0\.0\.1:\d+) started").Groups[1].Value;
        processes.Start("restarted", ["node", "--roles", "coordinator,generator", "--port", "0", "--seeds", standbyNode, "--config", config,
            .. training, "--out", Out("restarted")]);
        processes.WaitFor("restarted", "a training already runs on akka.tcp://akkagan@127.0.0.1:\\d+: this node stands by for run failover-spec");
        WaitForStatus(processes.ControlOf("restarted"), "phase      training (engine cluster", processes);
        // The orchestrator stops it again (SIGTERM: it leaves the cluster, handing over whatever it hosts).
        using (var term = Process.Start("kill", ["-TERM", processes["restarted"].Id.ToString(CultureInfo.InvariantCulture)])) term.WaitForExit();
        Assert.True(processes["restarted"].WaitForExit(120_000), "the restarted node did not leave on SIGTERM:\n" + processes.All());
        processes.StopTraining("standby");

        Assert.Contains("taking the coordinator over: run failover-spec continues from the state store's position", processes.Log("standby"));
        var summary = JsonNode.Parse(File.ReadAllText(Out("standby/summary.json")))!;
        var resumed = Assert.Single(summary["faults"]!.AsArray(), f => f!["fault"]!.GetValue<string>() == "resumed")!;
        Assert.True(resumed["round"]!.GetValue<long>() > 0, resumed.ToJsonString());   // continued, not started over
        // The standby counts only the rounds it trained.
        Assert.Equal(summary["rounds"]!.GetValue<long>() - resumed["round"]!.GetValue<long>(), summary["rounds_this_run"]!.GetValue<long>());

        // Continued from the stored checkpoint, the run ends where an uninterrupted one of as many rounds does.
        var rounds = summary["rounds"]!.GetValue<long>().ToString(CultureInfo.InvariantCulture);
        var reference = Akkagan.Run(["train", "--engine", "reference", .. Training(rounds), "--out", Out("reference")]);
        Assert.True(reference.ExitCode == 0, reference.All);
        var expected = JsonNode.Parse(File.ReadAllText(Out("reference/summary.json")))!;
        foreach (var key in new[] { "high_quality_fraction", "reverse_kl", "generator_loss", "discriminator_loss" })
            Assert.Equal(expected[key]!.GetValue<double>(), summary[key]!.GetValue<double>());
        // Every weight and optimizer moment, byte for byte.
        CheckpointComparison.AssertEntitiesEqual(Out("reference"), "reference engine", Out("standby"), "standby after the fail-over");
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_standby_whose_run_completes_normally_should_say_so_and_exit_0()
    {
        var config = Out("standby.hocon");
        File.WriteAllText(config, $$"""akkagan.persistence { connection-string = "Data Source={{Out("state.db")}}", run-id = "completes-spec" }""");
        var seed = Akkagan.FreePort();
        var seeds = $"127.0.0.1:{seed}";
        string[] training = ["--discriminator-nodes", "1", "--control-port", "0", "--rounds", "1000", "--batch", "64", "--unroll", "0", "--eval-every", "500",
            "--checkpoint-every", "500"];
        using var processes = new Processes();
        processes.Start("discriminator", ["node", "--roles", "discriminator", "--port", "0", "--seeds", seeds, "--config", config, "--control-port", "0"]);
        processes.Start("primary", ["node", "--roles", "coordinator,generator", "--port", seed.ToString(CultureInfo.InvariantCulture), "--seeds", seeds,
            "--config", config, .. training, "--out", Out("primary")]);
        // Paused until the standby stands by, so the run cannot end before it joined, however fast this machine is.
        var primaryControl = processes.ControlOf("primary");
        processes.WaitFor("primary", @"training rounds");
        var pause = Akkagan.Ctl(primaryControl, "gan", "pause");
        Assert.True(pause.ExitCode == 0, pause.All);
        processes.Start("standby", ["node", "--roles", "coordinator,generator", "--standby", "--port", "0", "--seeds", seeds, "--config", config,
            .. training, "--out", Out("standby")]);
        processes.WaitFor("standby", "standby: the coordinator runs on akka");
        // It does not announce a training of its own flags: the run's settings are the stored ones.
        Assert.Contains("akkagan node --standby: stands by for run completes-spec", processes.Log("standby"));
        Assert.DoesNotContain("akkagan train:", processes.Log("standby"));
        var resume = Akkagan.Ctl(primaryControl, "gan", "resume");
        Assert.True(resume.ExitCode == 0, resume.All);

        Assert.True(processes["primary"].WaitForExit(300_000), "the primary did not finish:\n" + processes.All());
        Assert.Equal(0, processes["primary"].ExitCode);
        // The singleton moves to the standby as the primary leaves: it finds the run completed in the store and ends.
        Assert.True(processes["standby"].WaitForExit(120_000), "the standby did not end after the run completed:\n" + processes.All());
        Assert.True(processes["standby"].ExitCode == 0, processes.All());
        Assert.Contains("run completes-spec already completed at round 1000 (the state store's position); nothing to take over", processes.Log("standby"));
        Assert.False(File.Exists(Out("standby/summary.json")), "the standby wrote a summary of a run it did not train");
        Assert.True(JsonNode.Parse(File.ReadAllText(Out("primary/summary.json")))!["completed"]!.GetValue<bool>());
    }
}

/// <summary>SIGTERM on a node that waits for members, stands by, or waits for a lost member.</summary>
public sealed class NodeSigtermSpecs : NodeLossFixture
{
    [Fact]
    [Trait("Category", "Slow")]
    public void Sigterm_should_end_a_node_that_waits_for_members_stands_by_or_waits_for_a_lost_member_with_what_it_has()
    {
        string[] training = ["--rounds", Akkagan.Endless, "--lr-decay", "none", "--batch", "64", "--unroll", "0", "--eval-every", "500", "--eval-samples", "500",
            "--checkpoint-every", "50", "--control-port", "0"];
        using var processes = new Processes();

        // Waiting for discriminator nodes that never come: it ends as a stopped run, with its summary.
        var alone = Akkagan.FreePort().ToString(CultureInfo.InvariantCulture);
        processes.Start("waiting", ["node", "--roles", "coordinator,generator", "--port", alone, "--seeds", $"127.0.0.1:{alone}", "--discriminator-nodes", "1",
            .. training, "--out", Out("waiting")]);
        processes.WaitFor("waiting", "waiting for the cluster");
        processes.Terminate("waiting");
        Assert.True(processes["waiting"].ExitCode == 130, processes.All());
        Assert.Equal(0, JsonNode.Parse(File.ReadAllText(Out("waiting/summary.json")))!["rounds"]!.GetValue<long>());

        // A lost member that is not coming back soon (its node is downed only after a minute): the run waits below
        // the quorum, and a stop ends it with a final checkpoint (the member keeps its last known state in it).
        var config = Out("sigterm.hocon");
        File.WriteAllText(config, $$"""
            akkagan.cluster.step-timeout = 3s
            akka.cluster.split-brain-resolver.stable-after = 60s
            akkagan.persistence { connection-string = "Data Source={{Out("shared.db")}}", run-id = "sigterm-spec" }
            """);
        var seed = Akkagan.FreePort().ToString(CultureInfo.InvariantCulture);
        processes.Start("discriminator", ["node", "--roles", "discriminator", "--port", "0", "--seeds", $"127.0.0.1:{seed}", "--config", config, "--control-port", "0"]);
        processes.Start("primary", ["node", "--roles", "coordinator,generator", "--port", seed, "--seeds", $"127.0.0.1:{seed}", "--config", config,
            "--discriminator-nodes", "1", .. training, "--out", Out("primary")]);
        processes.WaitFor("primary", @"round \d+: checkpoint");

        // Standing by: a stop ends it at once; it trained nothing, so it writes no summary and exits 0.
        processes.Start("standby", ["node", "--roles", "coordinator", "--standby", "--port", "0", "--seeds", $"127.0.0.1:{seed}", "--config", config,
            "--control-port", "0", "--out", Out("standby")]);
        processes.WaitFor("standby", "standby: the coordinator runs on akka");
        processes.Terminate("standby");
        Assert.True(processes["standby"].ExitCode == 0, processes.All());
        Assert.Contains("stopped while standing by for run sigterm-spec: it took nothing over and trained nothing", processes.Log("standby"));
        Assert.False(File.Exists(Out("standby/summary.json")), "a standby stopped while standing by wrote a summary");

        processes.Kill("discriminator");
        processes.WaitFor("primary", @"d-0 suspended");
        processes.Terminate("primary");
        Assert.True(processes["primary"].ExitCode == 130, processes.All());
        var summary = JsonNode.Parse(File.ReadAllText(Out("primary/summary.json")))!;
        var last = summary["last_checkpoint"]!.GetValue<string>();
        Assert.EndsWith($"ckpt-r{summary["rounds"]!.GetValue<long>():D8}.akgc", last, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(Out("primary"), last)), last);
    }
}
