using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AkkaGan.Integration.Tests;

/// <summary>
/// deploy/docker and deploy/k8s cannot run here (no Docker, no Kubernetes): what can be checked is. The compose file
/// and the manifests parse; every node they describe, put through the image's entry point, becomes an `akkagan node`
/// command whose flags exist; the Dockerfile copies what exists; probes, preStop hooks and the headless service are
/// wired as README says.
/// </summary>
public sealed class DeploySpecs
{
    internal static string Deploy(string path) => Path.Combine(Akkagan.RepositoryRoot, "deploy", path);

    /// <summary>A folder made once by deploy/tls/make-certificate.sh: the cluster certificate the kits mount, and its password.</summary>
    private static readonly Lazy<string> Tls = new(() =>
    {
        var dir = Path.Combine(Directory.CreateTempSubdirectory("akkagan-tls-").FullName, "tls");
        Run(Deploy("tls/make-certificate.sh"), [dir], new Dictionary<string, string>());
        return dir;
    });

    /// <summary>Checks a node's TLS paths (the kit's mounts, which do not exist here), then points them at <see cref="Tls"/>'s files.</summary>
    private static void UseMadeTls(Dictionary<string, string> environment, string certificate, string passwordFile)
    {
        Assert.Equal((certificate, passwordFile), (environment["AKKAGAN_TLS_CERTIFICATE"], environment["AKKAGAN_TLS_PASSWORD_FILE"]));
        environment["AKKAGAN_TLS_CERTIFICATE"] = Path.Combine(Tls.Value, "node.pfx");
        environment["AKKAGAN_TLS_PASSWORD_FILE"] = Path.Combine(Tls.Value, "password");
    }

    /// <summary>What the entry point's config overlay says for <see cref="Tls"/>'s files.</summary>
    private static string MadeTlsOverlay() =>
        $"akkagan.tls {{ enabled = on, certificate = \"{Path.Combine(Tls.Value, "node.pfx")}\", password = \"{File.ReadAllText(Path.Combine(Tls.Value, "password")).Trim()}\" }}";

    /// <summary>
    /// YAML (all documents) as JSON, through PyYAML: no YAML parser is among this project's packages. The Python is
    /// AKKAGAN_PYTHON, which build.sh sets to one that has PyYAML, else python3 on PATH.
    /// </summary>
    internal static List<JsonNode> Yaml(string path)
    {
        var python3 = Environment.GetEnvironmentVariable("AKKAGAN_PYTHON") is { Length: > 0 } named ? named : "python3";
        var start = new ProcessStartInfo(python3) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))");
        start.ArgumentList.Add(path);
        using var python = Process.Start(start)!;
        var stdout = python.StandardOutput.ReadToEnd();
        var stderr = python.StandardError.ReadToEnd();
        python.WaitForExit();
        Assert.True(python.ExitCode == 0, $"{path} does not parse as YAML ({python3} with PyYAML): {stderr}");
        return [.. JsonNode.Parse(stdout)!.AsArray().Select(d => d!)];
    }

    private static string Run(string file, string[] args, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(file);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file}: {stderr}");
        return stdout;
    }

    private static readonly Lazy<HashSet<string>> NodeFlags = new(() =>
    {
        var help = Akkagan.Run("node", "--help");
        Assert.Equal(0, help.ExitCode);
        return [.. Regex.Matches(help.Stdout, @"(--[a-z0-9-]+)").Select(m => m.Groups[1].Value)];
    });

    /// <summary>The image's entry point, dry-run with a node's environment: the flags it produces must be akkagan node's.</summary>
    private static string NodeCommand(IReadOnlyDictionary<string, string> environment, string[] args)
    {
        var env = new Dictionary<string, string>(environment) { ["AKKAGAN_DRY_RUN"] = "1", ["AKKAGAN_APP"] = Akkagan.Dll };
        var command = Run(Deploy("docker/entrypoint.sh"), args, env);
        foreach (Match flag in Regex.Matches(command, @"(?<=\s)(--[a-z0-9-]+)"))
            Assert.True(NodeFlags.Value.Contains(flag.Value), $"{flag.Value} (from {command.Trim()}) is not a flag of akkagan node");
        return command;
    }

    [Fact]
    public void The_scripts_should_be_valid_bash()
    {
        foreach (var script in new[] { "docker/entrypoint.sh", "docker/akkagan-ctl.sh", "tls/make-certificate.sh", "local/run.sh", "local/start.sh", "local/stop.sh", "local/kill.sh", "local/drill.sh" })
            Run("-n", [Deploy(script)], new Dictionary<string, string>());
    }

    [Fact]
    public void The_images_akkagan_ctl_should_take_the_nodes_token_file_unless_given_a_token()
    {
        ProcessStartInfo Ctl(params string[] args)
        {
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(Deploy("docker/akkagan-ctl.sh"));
            foreach (var a in args) start.ArgumentList.Add(a);
            start.Environment["AKKAGAN_CTL_APP"] = Akkagan.CtlDll;
            start.Environment["AKKAGAN_CONTROL_TOKEN_FILE"] = "/nonexistent/akkagan-token";
            return start;
        }
        (int Code, string Error) Run(ProcessStartInfo start)
        {
            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEnd();
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, error);
        }
        // The node's token file is passed on: here it cannot be read, which akkagan-ctl says before connecting.
        var passed = Run(Ctl("127.0.0.1:1", "gan", "status"));
        Assert.Equal(2, passed.Code);
        Assert.Contains("--token-file: cannot read /nonexistent/akkagan-token", passed.Error);
        // A token given on the command line wins: nothing is added, and the unreachable host is the error.
        var own = Run(Ctl("--token", "t", "127.0.0.1:1", "gan", "status"));
        Assert.Equal(3, own.Code);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void The_made_certificate_should_carry_a_training_over_tls_as_the_entry_point_configures_it()
    {
        // The overlay the image's entry point writes for the kits' TLS secrets, from make-certificate.sh's files.
        var command = NodeCommand(new Dictionary<string, string>
        {
            ["AKKAGAN_ROLES"] = "coordinator,generator,discriminator",
            ["AKKAGAN_HEALTH_PORT"] = "", // no health endpoint: its fixed port could be another spec's
            ["AKKAGAN_TLS_CERTIFICATE"] = Path.Combine(Tls.Value, "node.pfx"),
            ["AKKAGAN_TLS_PASSWORD_FILE"] = Path.Combine(Tls.Value, "password"),
        }, []);
        var overlay = Regex.Match(command, @"--config (\S+)").Groups[1].Value;
        var run = Path.Combine(Path.GetDirectoryName(Tls.Value)!, "run");
        var result = Akkagan.Run(["train", "--config", overlay, "--rounds", "4", "--batch", "64", "--unroll", "0", "--eval-every", "2", "--eval-samples", "300",
            "--control-port", "0", "--torch-threads", "1", "--out", run]);
        Assert.True(result.ExitCode == 0, result.All);
        Assert.True(JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!["completed"]!.GetValue<bool>());

        // The overlay is what the node reads: the same certificate under a wrong password does not start it.
        var wrong = Path.Combine(Path.GetDirectoryName(Tls.Value)!, "wrong-password");
        File.WriteAllText(wrong, "not-the-password\n");
        var refused = NodeCommand(new Dictionary<string, string>
        {
            ["AKKAGAN_ROLES"] = "coordinator,generator,discriminator",
            ["AKKAGAN_HEALTH_PORT"] = "",
            ["AKKAGAN_TLS_CERTIFICATE"] = Path.Combine(Tls.Value, "node.pfx"),
            ["AKKAGAN_TLS_PASSWORD_FILE"] = wrong,
        }, []);
        var bad = Akkagan.Run(["train", "--config", Regex.Match(refused, @"--config (\S+)").Groups[1].Value, "--rounds", "4", "--out", run + "-refused"]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains($"akkagan.tls.certificate: {Path.Combine(Tls.Value, "node.pfx")} cannot be read with akkagan.tls.password", bad.Stderr);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void The_kits_control_tls_should_carry_the_images_akkagan_ctl_by_the_made_certificate()
    {
        // The kits' settings: the control host speaks TLS with the cluster's certificate; the image's akkagan-ctl trusts node.crt.
        var command = NodeCommand(new Dictionary<string, string>
        {
            ["AKKAGAN_ROLES"] = "coordinator,generator,discriminator",
            ["AKKAGAN_HEALTH_PORT"] = "",
            ["AKKAGAN_TLS_CERTIFICATE"] = Path.Combine(Tls.Value, "node.pfx"),
            ["AKKAGAN_TLS_PASSWORD_FILE"] = Path.Combine(Tls.Value, "password"),
            ["AKKAGAN_CONTROL_TLS"] = "1",
        }, []);
        var overlay = Regex.Match(command, @"--config (\S+)").Groups[1].Value;
        Assert.Contains("akkagan.control.tls.enabled = on", File.ReadAllText(overlay), StringComparison.Ordinal);
        var output = new System.Text.StringBuilder();
        using var train = Akkagan.StartCapturing(["train", "--engine", "reference", "--config", overlay, "--rounds", Akkagan.Endless, "--batch", "64",
            "--unroll", "0", "--eval-every", "1000", "--control-port", "0", "--out", Path.Combine(Path.GetDirectoryName(Tls.Value)!, "control-tls")], output);
        try
        {
            Match line;
            lock (output)
            {
                var deadline = DateTime.UtcNow.AddMinutes(1);
                while (!(line = Regex.Match(output.ToString(), @"control: akkagan-ctl (\S+) --tls-thumbprint (\S+)")).Success && DateTime.UtcNow < deadline && !train.HasExited)
                    Monitor.Wait(output, TimeSpan.FromSeconds(1));
                Assert.True(line.Success, "no control line with a fingerprint:\n" + output);
            }
            // The fingerprint the node prints is the made certificate's.
            using (var made = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(Path.Combine(Tls.Value, "node.crt")))
                Assert.Equal(AkkaGan.Control.ControlClientTls.Fingerprint(made), line.Groups[2].Value);
            var environment = new Dictionary<string, string>
            {
                ["AKKAGAN_CTL_APP"] = Akkagan.CtlDll, ["AKKAGAN_CONTROL_TLS"] = "1", ["AKKAGAN_CONTROL_TLS_TRUST"] = Path.Combine(Tls.Value, "node.crt"),
            };
            var status = Run(Deploy("docker/akkagan-ctl.sh"), [line.Groups[1].Value, "gan", "status"], environment);
            Assert.Contains("phase      ", status, StringComparison.Ordinal);
            Run(Deploy("docker/akkagan-ctl.sh"), [line.Groups[1].Value, "gan", "stop"], environment);
            Assert.True(train.WaitForExit(TimeSpan.FromMinutes(2)), "the training did not stop:\n" + output);
            Assert.Equal(130, train.ExitCode);
        }
        finally
        {
            if (!train.HasExited) train.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public void The_drill_script_should_refuse_an_unknown_drill_naming_the_known_ones()
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Deploy("local/drill.sh"), Path.Combine(Path.GetTempPath(), "akkagan-drill-refused"), "kill-everything" }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("unknown drill 'kill-everything' (fast, exact, coordinator, finish, stop, busy-port)", stderr);
    }

    /// <summary>
    /// The node services' health check as compose runs it (<c>CMD</c>: the argument list as is; <c>CMD-SHELL</c>: the string
    /// under <c>/bin/sh -c</c>), with the health port 8558 replaced by <paramref name="healthPort"/>.
    /// </summary>
    internal static ProcessStartInfo ComposeHealthCheck(int healthPort)
    {
        var compose = Assert.Single(Yaml(Deploy("docker/compose.yaml")));
        var test = compose["services"]!["coordinator"]!["healthcheck"]!["test"]!.AsArray().Select(t => t!.ToString()
            .Replace("8558", healthPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)).ToArray();
        var start = test[0] switch
        {
            "CMD" => new ProcessStartInfo(test[1]),
            "CMD-SHELL" => new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", test[1] } },
            var form => throw new InvalidOperationException($"compose health check form {form} is neither CMD nor CMD-SHELL"),
        };
        if (test[0] == "CMD") foreach (var a in test[2..]) start.ArgumentList.Add(a);
        start.RedirectStandardOutput = start.RedirectStandardError = true;
        start.UseShellExecute = false;
        return start;
    }

    [Fact]
    public void Every_compose_service_should_become_a_valid_node_command()
    {
        var compose = Assert.Single(Yaml(Deploy("docker/compose.yaml")));
        var services = compose["services"]!.AsObject();
        Assert.Equal(["coordinator", "coordinator-standby", "discriminator-1", "discriminator-2", "discriminator-3", "generator", "postgres"], services.Select(s => s.Key).Order());
        // Every node's state store is the postgres service, with the password compose requires.
        Assert.Contains("pg_isready", services["postgres"]!["healthcheck"]!["test"]!.AsArray().Select(t => t!.ToString()).Last(), StringComparison.Ordinal);
        foreach (var (name, service) in services.Where(s => s.Key != "postgres"))
        {
            var environment = service!["environment"]!.AsObject().ToDictionary(e => e.Key, e => e.Value!.ToString());
            // The control token is a compose secret (a file), not an environment variable of the node.
            Assert.DoesNotContain("AKKAGAN_CONTROL_TOKEN", environment.Keys);
            Assert.Contains("control_token", service["secrets"]!.AsArray().Select(x => x!.ToString()));
            environment["AKKAGAN_STATE_STORE"] = environment["AKKAGAN_STATE_STORE"].Replace("${AKKAGAN_DB_PASSWORD:?set AKKAGAN_DB_PASSWORD}", "pa\"ss", StringComparison.Ordinal);
            environment["AKKAGAN_RUN_ID"] = environment["AKKAGAN_RUN_ID"].Replace("${AKKAGAN_RUN_ID:-akkagan-compose}", "akkagan-compose", StringComparison.Ordinal);
            Assert.Equal("service_healthy", service["depends_on"]!["postgres"]!["condition"]!.ToString());
            var args = service["command"]?.AsArray().Select(a => a!.ToString()).ToArray() ?? [];
            UseMadeTls(environment, "/run/secrets/tls_certificate", "/run/secrets/tls_password");
            Assert.Contains("tls_certificate", service["secrets"]!.AsArray().Select(x => x!.ToString()));
            var command = NodeCommand(environment, args);
            // The store reaches the node through the entry point's config overlay, quoted for HOCON.
            var overlay = File.ReadAllText(Regex.Match(command, @"--config (\S+)").Groups[1].Value);
            Assert.Contains(MadeTlsOverlay(), overlay, StringComparison.Ordinal);
            // The control hosts speak TLS too; the image's akkagan-ctl trusts them by the public certificate's secret.
            Assert.Contains("akkagan.control.tls.enabled = on", overlay, StringComparison.Ordinal);
            Assert.Equal("/run/secrets/tls_public_certificate", environment["AKKAGAN_CONTROL_TLS_TRUST"]);
            Assert.Contains("tls_public_certificate", service["secrets"]!.AsArray().Select(x => x!.ToString()));
            Assert.Contains("akkagan.persistence.provider = \"postgresql\"", overlay, StringComparison.Ordinal);
            Assert.Contains("akkagan.persistence.connection-string = \"Host=postgres;Database=akkagan;Username=akkagan;Password=pa\\\"ss\"", overlay, StringComparison.Ordinal);
            Assert.Contains($"--roles {environment["AKKAGAN_ROLES"].Replace(",", "\\,", StringComparison.Ordinal)}", command);
            // No seed list: config discovery of every node's contact point, each node known by its service's hostname.
            Assert.DoesNotContain("--seeds", command, StringComparison.Ordinal);
            Assert.Contains("--contact-points coordinator:4053", command);
            Assert.Equal(services.Where(s => s.Key != "postgres").Select(s => $"{s.Key}:4053").Order(),
                environment["AKKAGAN_CONTACT_POINTS"].Split(',').Order());
            Assert.Equal((name, name), (environment["AKKAGAN_PUBLIC_HOST"], service["hostname"]!.ToString()));
            Assert.Contains("akkagan.persistence.run-id = \"akkagan-compose\"", overlay, StringComparison.Ordinal);
            Assert.Contains("--control-host 0.0.0.0", command);
            Assert.Contains("--control-token-file /run/secrets/control_token", command);
            Assert.Contains("akkagan.metrics { prometheus-host = \"0.0.0.0\", prometheus-port = 9464 }", overlay, StringComparison.Ordinal);
            if (name.StartsWith("coordinator", StringComparison.Ordinal)) Assert.Contains("--discriminator-nodes 3", command);
            Assert.Equal(name == "coordinator-standby", command.Contains("--standby", StringComparison.Ordinal));
            Assert.Contains(service["healthcheck"]!["test"]!.AsArray().Select(t => t!.ToString()), t => t.Contains("GET /ready", StringComparison.Ordinal));
        }
        Assert.Equal("AKKAGAN_CONTROL_TOKEN", compose["secrets"]!["control_token"]!["environment"]!.ToString());
        // Three discriminator nodes for the coordinator's three discriminators.
        Assert.Contains("3", services["coordinator"]!["command"]!.AsArray().Select(a => a!.ToString()));
    }

    [Fact]
    public void Every_statefulset_and_job_should_become_a_valid_node_with_probes_and_a_prestop_leave()
    {
        var documents = Yaml(Deploy("k8s/akkagan.yaml"));
        var service = Assert.Single(documents, d => d["kind"]!.ToString() == "Service" && d["metadata"]!["name"]!.ToString() == "akkagan");
        Assert.Equal("None", service["spec"]!["clusterIP"]!.ToString());
        Assert.True(service["spec"]!["publishNotReadyAddresses"]!.GetValue<bool>());
        // The nodes behind the headless Service (app: akkagan): the coordinators are Jobs (a run ends: a completed run is
        // not started again), the serving roles StatefulSets; PostgreSQL has its own.
        var sets = documents.Where(d => d["kind"]!.ToString() is "StatefulSet" or "Job" && d["metadata"]!["labels"]!["app"]!.ToString() == "akkagan").ToList();
        Assert.Equal(["akkagan-coordinator", "akkagan-coordinator-standby", "akkagan-discriminator", "akkagan-generator"], sets.Select(s => s["metadata"]!["name"]!.ToString()).Order());
        Assert.Equal(["Job", "Job"], sets.Where(s => s["metadata"]!["name"]!.ToString().StartsWith("akkagan-coordinator", StringComparison.Ordinal)).Select(s => s["kind"]!.ToString()));
        var postgres = Assert.Single(documents, d => d["kind"]!.ToString() == "StatefulSet" && d["metadata"]!["name"]!.ToString() == "akkagan-postgres");
        Assert.Contains(postgres["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray(),
            e => e!["name"]!.ToString() == "POSTGRES_PASSWORD" && e["valueFrom"]?["secretKeyRef"]?["name"]?.ToString() == "akkagan-state");
        Assert.Single(documents, d => d["kind"]!.ToString() == "Service" && d["metadata"]!["name"]!.ToString() == "akkagan-postgres");
        foreach (var set in sets)
        {
            var name = set["metadata"]!["name"]!.ToString();
            var job = set["kind"]!.ToString() == "Job";
            var pod = set["spec"]!["template"]!["spec"]!;
            if (job)
            {
                // A pod that is started again only when it failed; its run folder on a claim of its own.
                Assert.Equal("OnFailure", pod["restartPolicy"]!.ToString());
                var claim = pod["volumes"]!.AsArray().Single(v => v!["name"]!.ToString() == "runs")!["persistentVolumeClaim"]!["claimName"]!.ToString();
                Assert.Single(documents, d => d["kind"]!.ToString() == "PersistentVolumeClaim" && d["metadata"]!["name"]!.ToString() == claim);
            }
            else Assert.Equal("akkagan", set["spec"]!["serviceName"]!.ToString());
            var container = pod["containers"]![0]!;
            var environment = container["env"]!.AsArray().Where(e => e!["value"] is not null)
                .ToDictionary(e => e!["name"]!.ToString(), e => e!["value"]!.ToString());
            // Known by its IP, the address DNS discovery gives the other pods.
            Assert.Contains(container["env"]!.AsArray(), e => e!["name"]!.ToString() == "AKKAGAN_PUBLIC_HOST" && e["valueFrom"]?["fieldRef"]?["fieldPath"]?.ToString() == "status.podIP");
            environment["AKKAGAN_PUBLIC_HOST"] = "10.1.2.3";
            // The control token: the secret mounted as a file only the node's user reads (0400), named to the node and akkagan-ctl.
            var tokenVolume = Assert.Single(pod["volumes"]!.AsArray(), v => v!["secret"]?["secretName"]?.ToString() == "akkagan-control")!;
            Assert.Equal(256, tokenVolume["secret"]!["defaultMode"]!.GetValue<int>());
            var mount = Assert.Single(container["volumeMounts"]!.AsArray(), m => m!["name"]!.ToString() == tokenVolume["name"]!.ToString())!;
            Assert.Equal($"{mount["mountPath"]}/token", environment["AKKAGAN_CONTROL_TOKEN_FILE"]);
            Assert.DoesNotContain(container["env"]!.AsArray(), e => e!["name"]!.ToString() == "AKKAGAN_CONTROL_TOKEN");
            Assert.Equal("9464", set["spec"]!["template"]!["metadata"]!["annotations"]!["prometheus.io/port"]!.ToString());
            var tlsVolume = Assert.Single(pod["volumes"]!.AsArray(), v => v!["secret"]?["secretName"]?.ToString() == "akkagan-tls")!;
            Assert.Equal(256, tlsVolume["secret"]!["defaultMode"]!.GetValue<int>());
            var tlsMount = Assert.Single(container["volumeMounts"]!.AsArray(), m => m!["name"]!.ToString() == tlsVolume["name"]!.ToString())!;
            UseMadeTls(environment, $"{tlsMount["mountPath"]}/node.pfx", $"{tlsMount["mountPath"]}/password");
            var args = container["args"]?.AsArray().Select(a => a!.ToString()).ToArray() ?? [];
            var command = NodeCommand(environment, args);
            Assert.Contains("--control-token-file /etc/akkagan/control/token", command);
            Assert.Contains(MadeTlsOverlay(), File.ReadAllText(Regex.Match(command, @"--config (\S+)").Groups[1].Value), StringComparison.Ordinal);
            Assert.Contains("akkagan.control.tls.enabled = on", File.ReadAllText(Regex.Match(command, @"--config (\S+)").Groups[1].Value), StringComparison.Ordinal);
            Assert.Equal($"{tlsMount["mountPath"]}/node.crt", environment["AKKAGAN_CONTROL_TLS_TRUST"]);
            // No seed list: DNS discovery of the headless Service's records.
            Assert.DoesNotContain("--seeds", command, StringComparison.Ordinal);
            Assert.Contains("--discovery dns", command);
            Assert.Contains("akkagan.discovery.service-name = \"akkagan\"", File.ReadAllText(Regex.Match(command, @"--config (\S+)").Groups[1].Value), StringComparison.Ordinal);
            Assert.Equal(set["metadata"]!["name"]!.ToString() == "akkagan-coordinator-standby", command.Contains("--standby", StringComparison.Ordinal));
            Assert.Equal("Host=akkagan-postgres;Database=akkagan;Username=akkagan;Password=$(PG_PASSWORD)", environment["AKKAGAN_STATE_STORE"]);
            Assert.Contains(container["env"]!.AsArray(), e => e!["name"]!.ToString() == "AKKAGAN_RUN_ID" && e["valueFrom"]?["secretKeyRef"]?["key"]?.ToString() == "run-id");
            Assert.Contains("--public-host 10.1.2.3", command);
            var ports = container["ports"]!.AsArray().Select(p => p!["name"]!.ToString()).ToList();
            Assert.Equal("/alive", container["livenessProbe"]!["httpGet"]!["path"]!.ToString());
            Assert.Equal("/ready", container["readinessProbe"]!["httpGet"]!["path"]!.ToString());
            Assert.Contains(container["readinessProbe"]!["httpGet"]!["port"]!.ToString(), ports);
            Assert.Equal(["akkagan-ctl", "127.0.0.1:9120", "cluster", "leave"],
                container["lifecycle"]!["preStop"]!["exec"]!["command"]!.AsArray().Select(c => c!.ToString()));
        }
    }

    [Fact]
    public void The_dockerfile_should_copy_what_exists_and_enter_through_the_entry_point()
    {
        var dockerfile = File.ReadAllText(Deploy("docker/Dockerfile"));
        foreach (Match copy in Regex.Matches(dockerfile, @"^COPY (?!--from)(\S+) ", RegexOptions.Multiline))
            if (copy.Groups[1].Value != ".") Assert.True(File.Exists(Path.Combine(Akkagan.RepositoryRoot, copy.Groups[1].Value)), copy.Value);
        foreach (Match project in Regex.Matches(dockerfile, @"dotnet publish (\S+\.csproj)"))
            Assert.True(File.Exists(Path.Combine(Akkagan.RepositoryRoot, project.Groups[1].Value)), project.Value);
        Assert.Contains("COPY deploy/docker/entrypoint.sh /usr/local/bin/akkagan-node", dockerfile);
        Assert.Contains("ENTRYPOINT [\"akkagan-node\"]", dockerfile);
        Assert.Contains("-o /app/ctl", dockerfile); // where akkagan-ctl.sh looks
        Assert.Contains("/app/ctl/akkagan-ctl.dll", File.ReadAllText(Deploy("docker/akkagan-ctl.sh")));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void The_local_scripts_should_start_a_cluster_survive_a_killed_node_and_stop_it()
    {
        var dir = Directory.CreateTempSubdirectory("akkagan-local-").FullName;
        try
        {
            var config = Path.Combine(dir, "fast.hocon");
            File.WriteAllText(config, "akkagan.cluster.step-timeout = 3s\nakka.cluster.split-brain-resolver.stable-after = 5s\n");
            var environment = new Dictionary<string, string>
            {
                ["AKKAGAN_CMD"] = $"dotnet {Akkagan.Dll}", ["AKKAGAN_SEED_PORT"] = Akkagan.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["AKKAGAN_CONTROL_PORT"] = "0", ["AKKAGAN_OUT"] = Path.Combine(dir, "run"), ["AKKAGAN_CONFIG"] = config, ["CI"] = "true",
            };
            var started = Run(Deploy("local/start.sh"), ["--rounds", Akkagan.Endless, "--batch", "64", "--unroll", "0", "--discriminators", "2",
                "--eval-every", "100000", "--checkpoint-every", "100"], environment);
            Assert.Contains("discriminator-2: pid", started);
            var coordinatorLog = Path.Combine(dir, "run", "logs", "coordinator.log");
            string Log() => File.Exists(coordinatorLog) ? File.ReadAllText(coordinatorLog) : "";
            bool Wait(Func<string, bool> condition)
            {
                var deadline = DateTime.UtcNow.AddSeconds(120);
                while (!condition(Log()) && DateTime.UtcNow < deadline) Thread.Sleep(200);
                return condition(Log());
            }
            Assert.True(Wait(l => Regex.IsMatch(l, @"round \d+: checkpoint")), Log());
            var victim = Regex.Match(Log(), @"d-0 @ (\S+?)(,|\s)").Groups[1].Value;
            var node = Enumerable.Range(1, 2).Select(i => $"discriminator-{i}")
                .Single(n => File.ReadAllText(Path.Combine(dir, "run", "logs", n + ".log")).Contains(victim, StringComparison.Ordinal));
            Assert.Contains($"{node} (pid", Run(Deploy("local/kill.sh"), [Path.Combine(dir, "run"), node], environment));
            Assert.True(Wait(l => l.Contains("d-0 recovered", StringComparison.Ordinal)), Log());

            Run(Deploy("local/stop.sh"), [Path.Combine(dir, "run")], environment);
            Assert.Empty(Directory.GetFiles(Path.Combine(dir, "run", "pids")));
            var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "run", "summary.json")))!;
            Assert.False(summary["completed"]!.GetValue<bool>()); // stopped by stop.sh: an endless run
            // stop.sh stops the coordinator first: the run ends with a final checkpoint of the round it stopped at.
            var last = summary["last_checkpoint"]!.GetValue<string>();
            Assert.True(File.Exists(Path.Combine(dir, "run", last)), last);
            Assert.EndsWith($"ckpt-r{summary["rounds"]!.GetValue<long>():D8}.akgc", last, StringComparison.Ordinal);
            Assert.Contains(summary["faults"]!.AsArray(), f => f!["fault"]!.ToString() == "recovered");
        }
        finally
        {
            foreach (var pid in Directory.Exists(Path.Combine(dir, "run", "pids")) ? Directory.GetFiles(Path.Combine(dir, "run", "pids")) : [])
                try { Process.GetProcessById(int.Parse(File.ReadAllText(pid).Trim(), System.Globalization.CultureInfo.InvariantCulture)).Kill(true); } catch (ArgumentException) { }
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}
