using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AkkaGan.Integration.Tests;

/// <summary>`akkagan node`: bad input is refused before joining; real processes on loopback train like the reference engine.</summary>
public sealed class NodeCommandSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-node-").FullName;

    private static readonly string[] Quick =
        ["--batch", "64", "--unroll", "2", "--eval-every", "10", "--checkpoint-every", "10", "--eval-samples", "300", "--rounds", "20",
         "--discriminators", "2", "--aggregate", "softmax"];

    private string Out(string name) => Path.Combine(_dir, name);

    [Theory]
    [InlineData(new[] { "--roles", "painter" }, "unknown role 'painter'")]
    [InlineData(new[] { "--roles", "discriminator", "--standby" }, "--standby: only a node with the coordinator role")]
    [InlineData(new[] { "--roles", "coordinator", "--standby" }, "--standby needs akkagan.persistence.connection-string")]
    [InlineData(new[] { "--roles", "discriminator", "--seeds", "localhost" }, "'localhost' is not HOST:PORT")]
    [InlineData(new[] { "--roles", "discriminator", "--port", "70000" }, "70000 is not a TCP port")]
    [InlineData(new[] { "--roles", "discriminator", "--rounds", "5" }, "--rounds: only the coordinator's node takes training settings")]
    [InlineData(new[] { "--roles", "discriminator", "--torch-threads", "-1" }, "torch-threads must be zero or positive")]
    [InlineData(new[] { "--roles", "coordinator", "--rounds", "0" }, "rounds must be a positive number")]
    [InlineData(new[] { "--roles", "coordinator", "--discriminator-nodes", "0" }, "--discriminator-nodes: 0")]
    [InlineData(new[] { "--roles", "discriminator", "--health-port", "70000" }, "--health-port: 70000 is not a TCP port")]
    public void Node_should_refuse_bad_input_before_joining(string[] args, string expected)
    {
        var result = Akkagan.Run(TimeSpan.FromSeconds(60), ["node", .. args]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_coordinator_whose_nodes_never_come_should_give_up_naming_what_is_missing()
    {
        var port = Akkagan.FreePort().ToString(CultureInfo.InvariantCulture);
        var result = Akkagan.Run(TimeSpan.FromMinutes(1), "node", "--roles", "coordinator,generator", "--port", port, "--seeds", $"127.0.0.1:{port}",
            "--discriminator-nodes", "2", "--wait-timeout", "3", "--out", Out("lonely"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("the cluster did not form within 3 s (generator nodes 1/1, discriminator nodes 0/2)", result.Stderr);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_second_node_should_not_share_the_first_ones_port_nor_stand_by_without_a_shared_run_or_for_another_run()
    {
        // The first coordinator node waits for discriminator nodes that never come: it counts as training (it serves gan).
        string Store(string runId)
        {
            var file = Out($"{runId}.hocon");
            File.WriteAllText(file, $$"""akkagan.persistence { connection-string = "Data Source={{Out("state.db")}}", run-id = "{{runId}}" }""");
            return file;
        }
        var port = Akkagan.FreePort().ToString(CultureInfo.InvariantCulture);
        var firstOutput = new System.Text.StringBuilder();
        using var first = Akkagan.StartCapturing(["node", "--roles", "coordinator,generator", "--port", port, "--seeds", $"127.0.0.1:{port}",
            "--wait-timeout", "120", "--control-port", "0", "--config", Store("first-run"), "--out", Out("first")], firstOutput);
        try
        {
            string First()
            {
                lock (firstOutput) return firstOutput.ToString();
            }
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!First().Contains("waiting for the cluster", StringComparison.Ordinal) && DateTime.UtcNow < deadline && !first.HasExited) Thread.Sleep(100);
            Assert.True(First().Contains("waiting for the cluster", StringComparison.Ordinal), First());
            // A node on the port the first one listens on is refused, naming the port: Akka binds with SO_REUSEADDR, which .NET
            // on Linux turns into SO_REUSEPORT too, so without the check it would share the port and split the connections.
            var samePort = Akkagan.Run(TimeSpan.FromMinutes(1), ["node", "--roles", "discriminator", "--port", port, "--seeds", $"127.0.0.1:{port}", "--control-port", "0"]);
            Assert.True(samePort.ExitCode == 1, samePort.All);
            Assert.Contains($"the Akka port 127.0.0.1:{port} is in use by another process", samePort.Stderr);
            Assert.Contains("waiting for the cluster", First());
            // So is a control port given with --control-port (a node's, or a training's, before it writes anything).
            var control = System.Text.RegularExpressions.Regex.Match(First(), @"control: akkagan-ctl 127\.0\.0\.1:(\d+)").Groups[1].Value;
            Assert.NotEmpty(control);
            var sameControl = Akkagan.Run(TimeSpan.FromMinutes(1), ["node", "--roles", "discriminator", "--port", "0", "--seeds", $"127.0.0.1:{port}", "--control-port", control]);
            Assert.True(sameControl.ExitCode == 1, sameControl.All);
            Assert.Contains($"the control port 127.0.0.1:{control} is in use by another process", sameControl.Stderr);
            var training = Akkagan.Run(TimeSpan.FromMinutes(1), ["train", "--rounds", "1", "--control-port", control, "--out", Out("refused")]);
            Assert.True(training.ExitCode == 1, training.All);
            Assert.Contains($"the control port 127.0.0.1:{control} is in use by another process", training.Stderr);
            Assert.False(Directory.Exists(Out("refused")));

            string[] second = ["node", "--roles", "coordinator", "--port", "0", "--seeds", $"127.0.0.1:{port}", "--wait-timeout", "60", "--control-port", "0"];

            var unshared = Akkagan.Run(TimeSpan.FromMinutes(1), [.. second, "--out", Out("unshared")]);
            Assert.True(unshared.ExitCode == 1, unshared.All);
            Assert.Contains($"a training already runs on akka.tcp://akkagan@127.0.0.1:{port}; this node cannot take it over without " +
                            "akkagan.persistence.connection-string", unshared.Stderr);
            Assert.Contains("--standby", unshared.Stderr);

            // A shared store but another run id: standing by would later start that other run, so it is refused too.
            var otherRun = Akkagan.Run(TimeSpan.FromMinutes(1), [.. second, "--config", Store("other-run"), "--out", Out("other")]);
            Assert.True(otherRun.ExitCode == 1, otherRun.All);
            Assert.Contains($"the training on akka.tcp://akkagan@127.0.0.1:{port} is run first-run, but this node's akkagan.persistence.run-id is other-run", otherRun.Stderr);
        }
        finally
        {
            first.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task The_health_endpoint_should_answer_alive_and_ready_once_the_node_is_up()
    {
        var port = Akkagan.FreePort();
        var lonelySeed = Akkagan.FreePort(); // nobody listens there: the second node never joins
        var healthA = Akkagan.FreePort();
        var healthB = Akkagan.FreePort();
        using var node = Akkagan.Start(["node", "--roles", "discriminator", "--port", port.ToString(CultureInfo.InvariantCulture),
            "--control-port", "0", "--health-port", healthA.ToString(CultureInfo.InvariantCulture)]);
        using var stranded = Akkagan.Start(["node", "--roles", "discriminator", "--port", "0", "--seeds", $"127.0.0.1:{lonelySeed}",
            "--control-port", "0", "--health-port", healthB.ToString(CultureInfo.InvariantCulture)]);
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            async Task<(int Code, string Body)> Get(int healthPort, string path)
            {
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (true)
                {
                    try
                    {
                        using var response = await http.GetAsync($"http://127.0.0.1:{healthPort}{path}");
                        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
                    }
                    catch (HttpRequestException) when (DateTime.UtcNow < deadline)
                    {
                        await Task.Delay(250); // not listening yet
                    }
                }
            }
            var (alive, aliveBody) = await Get(healthA, "/alive");
            Assert.Equal(200, alive);
            Assert.Contains("\"status\":\"alive\"", aliveBody);
            var ready = await Get(healthA, "/ready");
            for (var i = 0; i < 100 && ready.Code != 200; i++)
            {
                await Task.Delay(200, cancellationToken: TestContext.Current.CancellationToken);
                ready = await Get(healthA, "/ready");
            }
            Assert.True(ready.Code == 200, ready.Body);
            Assert.Contains("\"entities\":{\"discriminator\":0}", ready.Body);
            // The compose kit's health check, run as compose runs it, passes on the ready node.
            Assert.Equal(0, ComposeHealthCheck(healthA));
            Assert.Equal(404, (await Get(healthA, "/bogus")).Code);

            // A node that cannot reach its seed is alive but not ready.
            Assert.Equal(200, (await Get(healthB, "/alive")).Code);
            var notReady = await Get(healthB, "/ready");
            Assert.Equal(503, notReady.Code);
            Assert.Contains("not ready: this node is", notReady.Body);
            Assert.NotEqual(0, ComposeHealthCheck(healthB));
        }
        finally
        {
            node.Kill(entireProcessTree: true);
            stranded.Kill(entireProcessTree: true);
        }
    }

    private static int ComposeHealthCheck(int healthPort)
    {
        using var check = Process.Start(DeploySpecs.ComposeHealthCheck(healthPort))!;
        _ = check.StandardOutput.ReadToEndAsync();
        _ = check.StandardError.ReadToEndAsync();
        Assert.True(check.WaitForExit(TimeSpan.FromSeconds(30)), "the compose health check did not finish within 30 s");
        return check.ExitCode;
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task The_local_deploy_script_should_run_one_training_to_completion_and_stop_its_nodes()
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(Akkagan.RepositoryRoot, "deploy", "local", "run.sh"));
        foreach (var flag in Quick) start.ArgumentList.Add(flag);
        start.Environment["CI"] = "true";
        start.Environment["AKKAGAN_CMD"] = $"dotnet {Akkagan.Dll}";
        start.Environment["AKKAGAN_SEED_PORT"] = Akkagan.FreePort().ToString(CultureInfo.InvariantCulture);
        start.Environment["AKKAGAN_CONTROL_PORT"] = "0"; // any free ports: tests run side by side
        start.Environment["AKKAGAN_OUT"] = Out("local");
        using var script = Process.Start(start)!;
        var stdout = script.StandardOutput.ReadToEndAsync(cancellationToken: TestContext.Current.CancellationToken);
        var stderr = script.StandardError.ReadToEndAsync(cancellationToken: TestContext.Current.CancellationToken);
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await script.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            script.Kill(entireProcessTree: true);
            Assert.Fail("deploy/local/run.sh did not finish within 4 minutes");
        }
        Assert.True(script.ExitCode == 0, await stdout + await stderr);
        var summary = JsonNode.Parse(File.ReadAllText(Out("local/summary.json")))!;
        Assert.True(summary["completed"]!.GetValue<bool>());
        foreach (var i in new[] { 1, 2 })
            Assert.Contains("left the cluster", File.ReadAllText(Out($"local/logs/discriminator-{i}.log")));
        Assert.Contains("placement:", File.ReadAllText(Out("local/logs/coordinator.log")));
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>The cluster on three real processes trains to the reference engine's checkpoint, bit for bit.</summary>
public sealed partial class CrossProcessEquivalenceSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-3proc-").FullName;

    private string Out(string name) => Path.Combine(_dir, name);

    /// <summary>
    /// Training flags of <see cref="Three_processes_should_train_to_the_reference_engines_checkpoint_bit_for_bit"/>'s runs: a
    /// population of two, so each discriminator process runs one member, and whether the run has evolutions.
    /// </summary>
    private static readonly Dictionary<string, (string[] Flags, bool Evolves)> CrossProcess = new()
    {
        ["first-order unrolled"] = (["--unroll", "2", "--unroll-order", "first", "--discriminators", "2", "--aggregate", "softmax"], false),
        ["second-order unrolled"] = (["--unroll", "2", "--unroll-order", "second", "--discriminators", "2", "--aggregate", "softmax"], false),
        // The worst member takes the best's weights: across processes the snapshot crosses the wire.
        ["evolving population"] = (["--unroll", "0", "--discriminators", "2", "--evolve-every", "5"], true),
        // A user's data: every discriminator process reads the file (or folder) the run names; the generator's process
        // builds its network from the dimension (channels) the coordinator resolved.
        ["points file"] = (["--dataset", "points", "--data-file", "{points}", "--unroll", "2", "--discriminators", "2", "--aggregate", "softmax"], false),
        // Sharded (MD-GAN style): each discriminator process loads only its member's half of the folder.
        ["image folder"] = (["--dataset", "images", "--data-dir", "{images}", "--image-size", "16", "--batch", "8", "--latent-dim", "8",
            "--unroll", "0", "--discriminators", "2", "--eval-samples", "32", "--data-shards", "2"], false),
    };

    /// <summary>The data files <see cref="CrossProcess"/>'s placeholders name: a 2-D points file and a folder of PNGs.</summary>
    private string[] WithData(string[] flags)
    {
        if (flags.Contains("{points}"))
        {
            var written = Akkagan.Run("dataset", "write", "--dataset", "grid25", "-n", "2000", "--out", Out("points.npy"));
            Assert.True(written.ExitCode == 0, written.All);
        }
        if (flags.Contains("{images}"))
        {
            var written = Akkagan.Run("dataset", "write", "--dataset", "stacked-fashion-mnist", "-n", "60", "--out", Out("images"));
            Assert.True(written.ExitCode == 0, written.All);
        }
        return [.. flags.Select(f => f.Replace("{points}", Out("points.npy"), StringComparison.Ordinal).Replace("{images}", Out("images"), StringComparison.Ordinal))];
    }

    /// <summary>
    /// DESIGN.md section 2: with one thread per process, the cluster on three processes (every step, gradient and
    /// snapshot crossing loopback remoting) ends with the reference engine's state, every weight and optimizer moment
    /// bit for bit; the two runs are compared with each other, never with recorded numbers.
    /// </summary>
    [Theory]
    [InlineData("first-order unrolled")]
    [InlineData("second-order unrolled")]
    [InlineData("evolving population")]
    [InlineData("points file")]
    [InlineData("image folder")]
    [Trait("Category", "Slow")]
    public void Three_processes_should_train_to_the_reference_engines_checkpoint_bit_for_bit(string configuration)
    {
        const int rounds = 20;
        var (flags, evolves) = CrossProcess[configuration];
        string[] common = ["--batch", "64", "--hidden-units", "64", "--rounds", rounds.ToString(CultureInfo.InvariantCulture),
            "--eval-every", "10", "--eval-samples", "300", "--checkpoint-every", "10"];
        // The configuration's own value of a common flag wins (a flag may be given once).
        string[] training = [.. common.Chunk(2).Where(pair => !flags.Contains(pair[0])).SelectMany(pair => pair), .. WithData(flags)];
        var cluster = ThreeProcessCluster.Train(training, torchThreads: 1, Out("3proc"));

        // The population is spread: d-0 and d-1 run on the two discriminator processes, not beside the generator.
        Assert.Equal(cluster.SeedAddress, cluster.Placement["g-0"]);
        Assert.NotEqual(cluster.Placement["d-0"], cluster.Placement["d-1"]);
        Assert.DoesNotContain(cluster.Placement["g-0"], new[] { cluster.Placement["d-0"], cluster.Placement["d-1"] });
        if (flags.Contains("--data-shards"))
        {
            // Each discriminator process held its own member's shard of the images, not the whole folder.
            var held = cluster.Discriminators.Select(log => ShardPattern().Match(log)).ToArray();
            Assert.All(held, m => Assert.True(m.Success, string.Join("\n---\n", cluster.Discriminators)));
            Assert.Equal(["0", "1"], held.Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal));
        }

        var reference = Akkagan.Run(["train", .. training, "--torch-threads", "1", "--engine", "reference", "--out", Out("ref")]);
        Assert.True(reference.ExitCode == 0, reference.All);
        Assert.Equal(2, Directory.GetFiles(Out("3proc/checkpoints"), "ckpt-r*.akgc").Length);
        // A fault the engine handled (a step that timed out, a member restored) makes the runs differ for a reason of its
        // own: name it rather than a differing tensor.
        var faults = JsonNode.Parse(File.ReadAllText(Out("3proc/summary.json")))!["faults"]?.AsArray() ?? [];
        Assert.True(faults.Count == 0, $"the 3-process run handled faults: {faults.ToJsonString()}\n{cluster.Coordinator.All}");
        var checkpoint = CheckpointComparison.AssertEntitiesEqual(Out("ref"), "reference engine", Out("3proc"), "3 processes");
        // Trained state, not the initial one: the last round's checkpoint, every entity stepped.
        Assert.Equal(rounds, checkpoint.Metadata.Round);
        Assert.Equal(["d-0", "d-1", "g-0"], checkpoint.Entities.Select(e => e.EntityId).Order(StringComparer.Ordinal));
        Assert.All(checkpoint.Entities, e => Assert.True(e.OptimizerSteps > 0 && e.Tensors.Count > 0, $"{e.EntityId}: {e.OptimizerSteps} steps"));

        var a = JsonNode.Parse(File.ReadAllText(Out("ref/summary.json")))!;
        var b = JsonNode.Parse(File.ReadAllText(Out("3proc/summary.json")))!;
        Assert.True(b["completed"]!.GetValue<bool>());
        Assert.Equal(rounds, b["rounds"]!.GetValue<long>());
        foreach (var key in new[] { "high_quality_fraction", "reverse_kl", "sliced_wasserstein", "mmd", "generator_loss", "discriminator_loss" }.Where(k => a[k] is not null))
            Assert.Equal(a[key]!.GetValue<double>(), b[key]!.GetValue<double>());
        Assert.True(a["generator_loss"] is not null && (a["reverse_kl"] ?? a["sliced_wasserstein"]) is not null, a.ToJsonString());
        // Evolutions happened (the comparison covers a copied member), the same ones in both engines.
        var evolutions = Evolutions(Out("3proc"));
        Assert.Equal(Evolutions(Out("ref")), evolutions);
        Assert.True(evolves ? evolutions.Count > 0 : evolutions.Count == 0, string.Join("\n", evolutions));
    }

    [GeneratedRegex(@"images: shard (\d) of 2: \d+ of the \d+ training images in memory")]
    private static partial Regex ShardPattern();

    /// <summary>The evolution events of a run's metrics.jsonl (round, best, worst, new learning rate), in order.</summary>
    private static List<string> Evolutions(string run)
        => File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!)
            .Where(e => e["event"]?.GetValue<string>() == "evolution")
            .Select(e => $"round {e["round"]}: {e["best"]} -> {e["worst"]}, lr {e["new_lr"]}").ToList();

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
