using System.Globalization;

namespace AkkaGan.Integration.Tests;

/// <summary>akkagan-ctl against the control host of a running `akkagan train`: status, cluster, errors, a clean stop.</summary>
public sealed class ControlSpecs(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-ctl-it-").FullName;

    private string Out(string name) => Path.Combine(_dir, name);

    [Theory]
    [InlineData("cluster")]
    [InlineData("reference")]
    [Trait("Category", "Slow")]
    public async Task Akkagan_ctl_should_show_pause_checkpoint_resume_and_stop_a_running_training(string engine)
    {
        var port = Akkagan.FreePort().ToString(CultureInfo.InvariantCulture);
        var endpoint = $"127.0.0.1:{port}";
        // The training's own output is kept: a failure below shows what it printed.
        var trainOutput = new System.Text.StringBuilder();
        string Trained()
        {
            lock (trainOutput) return trainOutput.ToString();
        }
        using var train = Akkagan.StartCapturing(["train", "--engine", engine, "--rounds", Akkagan.Endless, "--batch", "64", "--unroll", "1", "--eval-every", "5",
            "--eval-samples", "300", "--checkpoint-every", "100000", "--control-port", port, "--out", Out("run")], trainOutput);
        try
        {
            var metrics = Out("run/metrics.jsonl");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while ((!File.Exists(metrics) || new FileInfo(metrics).Length == 0) && DateTime.UtcNow < deadline && !train.HasExited) Thread.Sleep(100);
            Assert.False(train.HasExited, "akkagan train exited early:\n" + Trained());

            var status = Akkagan.Ctl(endpoint, "gan", "status");
            Assert.True(status.ExitCode == 0, status.All);
            Assert.Contains($"phase      training (engine {engine}", status.Stdout);
            Assert.Contains("d-0", status.Stdout);

            if (engine == "cluster")
            {
                var members = Akkagan.Ctl(endpoint, "cluster", "show");
                Assert.True(members.ExitCode == 0, members.All);
                Assert.Contains("coordinator,discriminator,generator", members.Stdout);
                Assert.Contains("(this node)", members.Stdout);
                var regions = Akkagan.Ctl(endpoint, "cluster-sharding", "regions");
                Assert.True(regions.ExitCode == 0, regions.All);
                Assert.Contains("discriminator: 1 region(s)", regions.Stdout);
                Assert.Contains("generator: 1 region(s)", regions.Stdout);
                var actors = Akkagan.Ctl(endpoint, "actor", "hierarchy", "-d", "1");
                Assert.True(actors.ExitCode == 0, actors.All);
                Assert.Contains("  coordinator-proxy", actors.Stdout);
            }

            // Paused: the engine parks between rounds. A checkpoint asked for while paused is taken where it parked, and a
            // second one (a positive signal through the engine's loop, not a pause in the test) is of the same round:
            // nothing trained in between, however long the round in flight took to end.
            Assert.Equal(0, Akkagan.Ctl(endpoint, "gan", "pause").ExitCode);
            Assert.Contains("phase      paused", WaitForPhase(endpoint, "paused"));
            long CheckpointNow()
            {
                var checkpoint = Akkagan.Ctl(endpoint, "gan", "checkpoint");
                Assert.True(checkpoint.ExitCode == 0, checkpoint.All + "\nthe training printed:\n" + Trained());
                var path = System.Text.RegularExpressions.Regex.Match(checkpoint.Stdout, @"checkpoint of round (\d+): (\S+)");
                Assert.True(path.Success, checkpoint.Stdout);
                Assert.True(File.Exists(path.Groups[2].Value), path.Groups[2].Value);
                return long.Parse(path.Groups[1].Value, CultureInfo.InvariantCulture);
            }
            var parked = CheckpointNow();
            Assert.Equal(parked, RoundOf(Akkagan.Ctl(endpoint, "gan", "status").Stdout));
            Assert.Equal(parked, CheckpointNow());
            var paused = Akkagan.Ctl(endpoint, "gan", "status").Stdout;
            Assert.Equal(parked, RoundOf(paused));

            // Samples from the generator as it is, as CSV and as a picture, written by the training's node into its run
            // folder (a relative path is taken from there); a path out of the run folder is refused, and nothing is written.
            var csv = Akkagan.Ctl(endpoint, "gan", "sample", "-n", "500", "--out", "samples.csv");
            Assert.True(csv.ExitCode == 0, csv.All);
            var rows = File.ReadAllLines(Out("run/samples.csv"));
            Assert.Equal(500, rows.Length);
            Assert.All(rows, r => Assert.Equal(2, r.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).Count()));
            Assert.Equal(0, Akkagan.Ctl(endpoint, "gan", "sample", "-n", "300", "--out", Out("run/picked/samples.png")).ExitCode);
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(Out("run/picked/samples.png"))[..4]);
            Directory.CreateSymbolicLink(Out("run/link"), _dir); // inside the run folder, pointing out of it
            foreach (var outside in new[] { Out("escaped.csv"), "../escaped.csv", "/etc/akkagan-escaped.csv", "link/escaped.csv" })
            {
                var refused = Akkagan.Ctl(endpoint, "gan", "sample", "-n", "5", "--out", outside);
                Assert.Equal(1, refused.ExitCode);
                Assert.Contains($"--out {outside}: samples are written only inside the run's folder {Out("run")}", refused.Stderr);
            }
            Assert.False(File.Exists(Out("escaped.csv")) || File.Exists("/etc/akkagan-escaped.csv"), "gan sample wrote outside the run folder");
            Assert.Contains("20 samples of shape [2]", Akkagan.Ctl(endpoint, "gan", "sample", "-n", "20").Stdout);
            Assert.Contains("between 1 and 100000", Akkagan.Ctl(endpoint, "gan", "sample", "-n", "0").Stderr);

            // Live changes while paused: applied at once, from the next round; refusals change nothing.
            var next = RoundOf(paused) + 1;
            var set = Akkagan.Ctl(endpoint, "gan", "set", "lr-d", "2e-4", "--member", "d-0");
            Assert.True(set.ExitCode == 0, set.All);
            Assert.Equal($"lr-d = 2e-4 (d-0) from round {next}", set.Stdout.Trim());
            var batch = Akkagan.Ctl(endpoint, "gan", "set", "batch", "32");
            Assert.Equal(1, batch.ExitCode);
            Assert.Contains("'batch' cannot be changed while training; live keys: ", batch.Stderr);
            Assert.All(new[] { "lr-g", "lr-d", "n-critic", "unroll" }, key => Assert.Contains(key, batch.Stderr[batch.Stderr.IndexOf("live keys", StringComparison.Ordinal)..]));
            Assert.Contains("n-critic must be a positive number", Akkagan.Ctl(endpoint, "gan", "set", "n-critic", "0").Stderr);
            Assert.Contains("unroll", Akkagan.Ctl(endpoint, "gan", "set").Stdout);
            var added = Akkagan.Ctl(endpoint, "gan", "population", "add", "--loss", "hinge", "--lr", "5e-4");
            Assert.True(added.ExitCode == 0, added.All);
            Assert.Equal($"added d-1 (loss hinge, lr-d 0.0005) from round {next}", added.Stdout.Trim());
            var population = Akkagan.Ctl(endpoint, "gan", "population").Stdout;
            Assert.Matches(@"d-0\s+non-saturating\s+0\.0002", population);
            Assert.Matches(@"d-1\s+hinge\s+0\.0005", population);
            Assert.Contains("2 discriminator(s)", population);
            Assert.Equal(0, Akkagan.Ctl(endpoint, "gan", "population", "remove", "d-0").ExitCode);
            Assert.Contains("d-1 is the last discriminator", Akkagan.Ctl(endpoint, "gan", "population", "remove", "d-1").Stderr);
            Assert.Contains("is not a discriminator id", Akkagan.Ctl(endpoint, "gan", "population", "remove", "x").Stderr);
            var health = Akkagan.Ctl(endpoint, "gan", "health");
            Assert.True(health.ExitCode == 0, health.All);
            Assert.Contains("non-finite values so far: 0", health.Stdout);
            Assert.Matches(@"generator\s+-?\d", health.Stdout);

            Assert.Equal(0, Akkagan.Ctl(endpoint, "gan", "resume").ExitCode);
            var deadline2 = DateTime.UtcNow.AddSeconds(60);
            while (RoundOf(Akkagan.Ctl(endpoint, "gan", "status").Stdout) <= RoundOf(paused) && DateTime.UtcNow < deadline2) Thread.Sleep(200);
            var resumed = Akkagan.Ctl(endpoint, "gan", "status").Stdout;
            Assert.True(RoundOf(resumed) > RoundOf(paused), "training did not resume");
            // Only the new member takes part now.
            Assert.Matches(@"(?m)^d-1 ", resumed);
            Assert.DoesNotMatch(@"(?m)^d-0 ", resumed);

            var bogus = Akkagan.Ctl(endpoint, "gan", "bogus");
            Assert.Equal(1, bogus.ExitCode);
            Assert.Contains("valid commands: status, watch, pause, resume, checkpoint, sample, set, population, health, stop", bogus.Stderr);

            // A watcher streams a line per evaluation until the training ends, then exits.
            var watchOutput = new System.Text.StringBuilder();
            using var watch = Akkagan.StartCtlCapturing([endpoint, "gan", "watch"], watchOutput);
            string Watched()
            {
                lock (watchOutput) return watchOutput.ToString();
            }
            // Stop only once the watcher is connected (its first line is the current state).
            var connected = DateTime.UtcNow.AddSeconds(30);
            while (!Watched().Contains("round ", StringComparison.Ordinal) && DateTime.UtcNow < connected && !watch.HasExited) Thread.Sleep(100);
            var stop = Akkagan.Ctl(endpoint, "gan", "stop");
            Assert.True(stop.ExitCode == 0, stop.All);
            // A stop finishes the round in flight, evaluates, checkpoints into the state store and leaves the cluster;
            // each of these waits at most akkagan.cluster.step-timeout (10 s; three times that for work between rounds) for an entity, so a stop may take longer
            // than a minute on a loaded machine without anything being wrong. What it printed is kept in the log.
            var stopping = System.Diagnostics.Stopwatch.StartNew();
            if (!train.WaitForExit(180_000))
            {
                var stuck = Akkagan.Ctl(endpoint, "gan", "status");
                Assert.Fail($"training did not stop within 3 min of gan stop ({stop.Stdout.Trim()}); gan status says:\n{stuck.All}\nit printed:\n{Trained()}");
            }
            log.WriteLine($"the training stopped {stopping.Elapsed.TotalSeconds:F1} s after gan stop");
            if (stopping.Elapsed > TimeSpan.FromSeconds(20)) log.WriteLine(Trained());
            Assert.True(train.ExitCode == 130, $"exit code {train.ExitCode}:\n{Trained()}");
            Assert.True(watch.WaitForExit(30_000), "gan watch did not end with the training");
            Assert.True(watch.ExitCode == 0, Watched());
            watch.WaitForExit(); // the output is complete
            var watchedText = Watched();
            Assert.Matches(@"round \d+/" + Akkagan.Endless, watchedText);
            Assert.Contains("training stopped at round", watchedText);
        }
        finally
        {
            if (!train.HasExited) train.Kill(entireProcessTree: true);
        }
        var history = File.ReadAllText(Out("run/metrics.jsonl"));
        Assert.Contains("\"event\":\"control\"", history);
        Assert.Contains("\"change\":\"removed d-0\"", history);
        Assert.NotEmpty(Directory.GetFiles(Out("run/checkpoints"), "ckpt-r*.akgc"));
        Assert.Equal(3, Akkagan.Ctl(endpoint, "gan", "status").ExitCode); // the host is gone with the training
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Every_gan_command_should_work_through_a_discriminator_nodes_control_port()
    {
        // Two processes: the coordinator+generator node trains; the discriminator node has no gan palette of its own and
        // forwards every gan command to the node that trains (as pbm answers from any node).
        var seed = Akkagan.FreePort();
        var seeds = $"127.0.0.1:{seed}";
        var workerPort = Akkagan.FreePort().ToString(CultureInfo.InvariantCulture);
        var worker = $"127.0.0.1:{workerPort}";
        var trainOutput = new System.Text.StringBuilder();
        var workerOutput = new System.Text.StringBuilder();
        string Trained()
        {
            lock (trainOutput) return trainOutput.ToString();
        }
        using var node = Akkagan.StartCapturing(["node", "--roles", "discriminator", "--port", "0", "--seeds", seeds, "--control-port", workerPort], workerOutput);
        using var train = Akkagan.StartCapturing(["node", "--roles", "coordinator,generator", "--port", seed.ToString(CultureInfo.InvariantCulture), "--seeds", seeds,
            "--rounds", Akkagan.Endless, "--batch", "64", "--unroll", "1", "--eval-every", "5", "--eval-samples", "300", "--checkpoint-every", "100000",
            "--control-port", "0", "--out", Out("relayed")], trainOutput);
        try
        {
            var metrics = Out("relayed/metrics.jsonl");
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while ((!File.Exists(metrics) || new FileInfo(metrics).Length == 0) && DateTime.UtcNow < deadline && !train.HasExited) Thread.Sleep(200);
            Assert.False(train.HasExited, "the coordinator's node exited early:\n" + Trained());

            // The worker's hello offers the gan palette, forwarded.
            var help = Akkagan.Ctl(worker, "help");
            Assert.True(help.ExitCode == 0, help.All);
            Assert.Contains("answered by the node that trains", help.Stdout);
            var status = Akkagan.Ctl(worker, "gan", "status");
            Assert.True(status.ExitCode == 0, status.All + Trained());
            Assert.Contains("phase      training (engine cluster", status.Stdout);
            Assert.Matches(@"(?m)^d-0 .*akka\.tcp://akkagan@127\.0\.0\.1:\d+$", status.Stdout);

            // The client library sees the same: the worker's hello offers every palette, and gan answers through it.
            await using (var client = await AkkaGan.Control.ControlClient.ConnectAsync("127.0.0.1", int.Parse(workerPort, CultureInfo.InvariantCulture), ct: TestContext.Current.CancellationToken))
            {
                Assert.Equal(["gan", "cluster", "cluster-sharding", "actor"], client.Palettes.Select(p => p.Name));
                var viaLibrary = await client.ExecuteAsync("gan", "pause", [], ct: TestContext.Current.CancellationToken);
                Assert.True(viaLibrary.Ok, viaLibrary.Error);
                Assert.StartsWith("pausing after the round in progress", Assert.Single(viaLibrary.Lines));
                var refused = await client.ExecuteAsync("gan", "set", ["n-critic", "0"], ct: TestContext.Current.CancellationToken);
                Assert.False(refused.Ok);
                Assert.Contains("n-critic must be a positive number", refused.Error);
            }
            Assert.Contains("phase      paused", WaitForPhase(worker, "paused"));
            var set = Akkagan.Ctl(worker, "gan", "set", "lr-g", "2e-4");
            Assert.True(set.ExitCode == 0, set.All);
            Assert.Matches(@"^lr-g = 2e-4 from round \d+$", set.Stdout.Trim());
            Assert.Contains("'batch' cannot be changed while training", Akkagan.Ctl(worker, "gan", "set", "batch", "32").Stderr);
            var added = Akkagan.Ctl(worker, "gan", "population", "add", "--loss", "hinge");
            Assert.True(added.ExitCode == 0, added.All);
            Assert.Contains("2 discriminator(s)", Akkagan.Ctl(worker, "gan", "population").Stdout);
            Assert.Contains("non-finite values so far: 0", Akkagan.Ctl(worker, "gan", "health").Stdout);
            Assert.Contains("5 samples of shape [2]", Akkagan.Ctl(worker, "gan", "sample", "-n", "5").Stdout);
            var checkpoint = Akkagan.Ctl(worker, "gan", "checkpoint");
            Assert.True(checkpoint.ExitCode == 0, checkpoint.All);
            Assert.Contains("checkpoint of round", checkpoint.Stdout);
            Assert.Contains("resumed at round", Akkagan.Ctl(worker, "gan", "resume").Stdout);
            Assert.Contains("valid commands: status, watch", Akkagan.Ctl(worker, "gan", "bogus").Stderr);
            Assert.Contains("2 member(s), 0 unreachable", Akkagan.Ctl(worker, "cluster", "show").Stdout);
            Assert.Contains("(this node)", Akkagan.Ctl(worker, "cluster-sharding", "regions").Stdout);

            // A watch through the worker streams evaluations; stopping through the worker ends the training and the watch.
            var watchOutput = new System.Text.StringBuilder();
            using var watch = Akkagan.StartCtlCapturing([worker, "gan", "watch"], watchOutput);
            string Watched()
            {
                lock (watchOutput) return watchOutput.ToString();
            }
            var connected = DateTime.UtcNow.AddSeconds(30);
            while (System.Text.RegularExpressions.Regex.Count(Watched(), "round ") < 2 && DateTime.UtcNow < connected && !watch.HasExited) Thread.Sleep(100);
            var stop = Akkagan.Ctl(worker, "gan", "stop");
            Assert.True(stop.ExitCode == 0, stop.All);
            Assert.True(train.WaitForExit(180_000), "training did not stop after gan stop through the worker:\n" + Trained());
            Assert.True(train.ExitCode == 130, $"exit code {train.ExitCode}:\n{Trained()}");
            Assert.True(watch.WaitForExit(60_000), "the forwarded gan watch did not end with the training");
            watch.WaitForExit();
            Assert.True(watch.ExitCode == 0, Watched());
            Assert.Contains("training stopped at round", Watched());
            // With the training gone, the worker says so.
            var after = Akkagan.Ctl(worker, "gan", "status");
            Assert.Equal(1, after.ExitCode);
            Assert.Contains("coordinator", after.Stderr); // no member has the role any more, or none serves gan
        }
        finally
        {
            foreach (var p in new[] { train, node }.Where(p => !p.HasExited)) p.Kill(entireProcessTree: true);
        }
        // Who asked is recorded: the client's address and the node that forwarded the command.
        var history = File.ReadAllLines(Out("relayed/metrics.jsonl")).Where(l => l.Contains("\"event\":\"control\"", StringComparison.Ordinal)).ToArray();
        Assert.Contains(history, l => l.Contains("\"command\":\"gan set lr-g 2e-4\"", StringComparison.Ordinal)
                                      && System.Text.RegularExpressions.Regex.IsMatch(l, @"""origin"":""127\.0\.0\.1:\d+ via akka\.tcp://akkagan@127\.0\.0\.1:\d+"""));
    }

    [Fact]
    [Trait("Category", "Slow")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // the token files' modes
    public void Tokens_from_files_should_let_a_reader_look_and_only_the_operator_steer_each_action_logged_with_its_role()
    {
        var operatorFile = Out("operator.token");
        var readerFile = Out("reader.token");
        File.WriteAllText(operatorFile, "op-" + Guid.NewGuid() + "\n");
        File.WriteAllText(readerFile, "read-" + Guid.NewGuid() + "\n");
        foreach (var file in new[] { operatorFile, readerFile }) File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var output = new System.Text.StringBuilder();
        using var train = Akkagan.StartCapturing(["train", "--engine", "reference", "--rounds", Akkagan.Endless, "--batch", "64", "--unroll", "0",
            "--eval-every", "1000", "--control-port", "0", "--control-token-file", operatorFile, "--control-read-only-token-file", readerFile,
            "--out", Out("tokens")], output);
        try
        {
            var endpoint = WaitForLine(output, @"control: akkagan-ctl (\S+) ", train).Groups[1].Value;
            var looked = Akkagan.Ctl(endpoint, "--token-file", readerFile, "gan", "status");
            Assert.True(looked.ExitCode == 0, looked.All);
            Assert.Contains("phase      ", looked.Stdout); // starting or training: the reader may look either way
            var steered = Akkagan.Ctl(endpoint, "--token-file", readerFile, "gan", "pause");
            Assert.Equal(1, steered.ExitCode);
            Assert.Contains("forbidden: the read-only token runs only", steered.Stderr);
            Assert.Contains("'gan pause' needs the operator token", steered.Stderr);
            Assert.Contains("unauthorized", Akkagan.Ctl(endpoint, "gan", "status").Stderr);
            var stopped = Akkagan.Ctl(endpoint, "--token-file", operatorFile, "gan", "stop");
            Assert.True(stopped.ExitCode == 0, stopped.All);
            Assert.True(train.WaitForExit(TimeSpan.FromMinutes(2)), "the training did not stop:\n" + output);
            Assert.Equal(130, train.ExitCode);
            lock (output)
            {
                var log = output.ToString();
                Assert.Matches(@"control: 'gan stop' received from 127\.0\.0\.1:\d+ \(operator\)", log);
                Assert.Matches(@"control: refused 'gan status' from 127\.0\.0\.1:\d+: unauthorized", log);
            }
        }
        finally
        {
            if (!train.HasExited) train.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Waits (up to a minute, or until the process exits) for a line of <paramref name="output"/> matching <paramref name="pattern"/>.</summary>
    private static System.Text.RegularExpressions.Match WaitForLine(System.Text.StringBuilder output, string pattern, System.Diagnostics.Process process)
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        lock (output)
        {
            System.Text.RegularExpressions.Match match;
            while (!(match = System.Text.RegularExpressions.Regex.Match(output.ToString(), pattern)).Success && DateTime.UtcNow < deadline && !process.HasExited)
                Monitor.Wait(output, TimeSpan.FromSeconds(1));
            Assert.True(match.Success, $"no line matching {pattern}:\n{output}");
            return match;
        }
    }

    [Fact]
    public void A_non_loopback_control_host_without_a_token_should_be_refused_at_start()
    {
        var result = Akkagan.Run("train", "--control-host", "0.0.0.0", "--out", Out("open"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("binding a non-loopback address needs a token", result.Stderr);
    }

    private static long RoundOf(string status)
        => long.Parse(System.Text.RegularExpressions.Regex.Match(status, @"round (\d+)/").Groups[1].Value, CultureInfo.InvariantCulture);

    private static string WaitForPhase(string endpoint, string phase)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var status = Akkagan.Ctl(endpoint, "gan", "status").Stdout;
            if (status.Contains($"phase      {phase}", StringComparison.Ordinal) || DateTime.UtcNow > deadline) return status;
            Thread.Sleep(200);
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
