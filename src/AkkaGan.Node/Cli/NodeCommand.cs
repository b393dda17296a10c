using System.CommandLine;
using Akka.Actor;
using AkkaGan.Cluster.Configuration;
using AkkaGan.Cluster.Control;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Node.Control;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using static TorchSharp.torch;

namespace AkkaGan.Node.Cli;

/// <summary>
/// <c>akkagan node</c>: one member of a multi-process cluster. A node with the coordinator role runs the training
/// (its settings come from its config and flags, validated before it joins) and exits when it ends; generator and
/// discriminator nodes host their entities until Ctrl-C / SIGTERM, when they leave the cluster gracefully.
/// </summary>
public static class NodeCommand
{
    public static Command Create()
    {
        var command = new Command("node",
            "Start a cluster member. The coordinator's node trains with the settings of its config and flags (the same as `akkagan train`), " +
            "writes the run's outputs and exits when training ends; generator and discriminator nodes serve until Ctrl-C or SIGTERM.");
        var roles = new Option<string>("--roles")
        {
            Description = "Comma-separated roles of this node: coordinator, generator, discriminator", HelpName = "ROLES", Required = true,
        };
        var host = new Option<string>("--host") { Description = "Address to listen on", HelpName = "HOST", DefaultValueFactory = _ => "127.0.0.1" };
        var publicHost = new Option<string?>("--public-host") { Description = "Address other nodes reach this one by (default: --host)", HelpName = "HOST" };
        var port = new Option<int>("--port") { Description = "Akka.Remote port (0 = any free port; seeds need a fixed one)", HelpName = "PORT", DefaultValueFactory = _ => 4053 };
        var seeds = new Option<string?>("--seeds")
        {
            Description = "Comma-separated HOST:PORT of seed nodes to join (none: this node starts a new cluster)", HelpName = "ADDRS",
        };
        var discovery = new Option<string?>("--discovery")
        {
            Description = "Find the cluster instead of --seeds: config (the --contact-points), dns (the A records of akkagan.discovery.service-name: " +
                          "a headless service, a compose service) or an Akka.Discovery method configured under akka.discovery.<name> (akkagan.discovery.method)",
            HelpName = "METHOD",
        };
        var contactPoints = new Option<string?>("--contact-points")
        {
            Description = "Comma-separated HOST:PORT of the cluster's nodes for --discovery config (implies it): the lowest forms the cluster, the rest join it",
            HelpName = "ADDRS",
        };
        var discriminatorNodes = new Option<int>("--discriminator-nodes")
        {
            Description = "Coordinator: discriminator nodes to wait for before the first round (the population is spread over them)",
            HelpName = "N", DefaultValueFactory = _ => 1,
        };
        var waitTimeout = new Option<int>("--wait-timeout")
        {
            Description = "Coordinator: seconds to wait for those nodes before giving up with a message naming what is missing",
            HelpName = "SECONDS", DefaultValueFactory = _ => 600,
        };
        var healthPort = new Option<int?>("--health-port")
        {
            Description = "Serve GET /alive and GET /ready (JSON; for Kubernetes probes) on this port (akkagan.probes; default off)", HelpName = "PORT",
        };
        var standby = new Option<bool>("--standby")
        {
            Description = "Coordinator: stand by to take over the coordinator singleton when the coordinator's node leaves or dies, and continue its run " +
                          "from the shared state store (needs akkagan.persistence.run-id and a connection-string every node reaches)",
        };
        command.Options.Add(healthPort);
        command.Options.Add(standby);
        command.Options.Add(roles);
        command.Options.Add(host);
        command.Options.Add(publicHost);
        command.Options.Add(port);
        command.Options.Add(seeds);
        command.Options.Add(discovery);
        command.Options.Add(contactPoints);
        command.Options.Add(discriminatorNodes);
        command.Options.Add(waitTimeout);
        var training = TrainCommand.TrainingOptions.AddTo(command);
        var control = ControlHost.AddTo(command);
        command.SetAction(parse =>
        {
            var member = MemberOptions.Parse(parse.GetValue(roles)!, parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(seeds), parse.GetValue(publicHost));
            var arguments = training.Read(parse);
            member = member with { Discovery = DiscoverySettings.Bind(SettingsLoader.LoadConfig(arguments.ConfigFile), parse.GetValue(discovery), parse.GetValue(contactPoints)) };
            if (member.Discovery is not null && member.Seeds.Count > 0)
                throw new SettingsException($"--seeds and {member.Discovery.Describe()}: give the node one way to find its cluster");
            var waitFor = parse.GetValue(discriminatorNodes);
            if (waitFor < 1) throw new SettingsException($"--discriminator-nodes: {waitFor} (at least 1)");
            var wait = parse.GetValue(waitTimeout);
            if (wait < 1) throw new SettingsException($"--wait-timeout: {wait} (at least 1 second)");
            var isStandby = parse.GetValue(standby);
            if (isStandby) CheckStandby(member, arguments.ConfigFile);
            if (member.Has(Roles.Coordinator))
                return TrainCommand.Run(ClusterEngine.EngineName, arguments, control.Read(parse) with { HealthPort = parse.GetValue(healthPort) },
                    new ClusterEngine.Topology(member, 1, waitFor, TimeSpan.FromSeconds(wait), isStandby));

            // Torch threads size this process's pool, not the run: every node takes its own (the run's settings do not set them).
            var nodeFlags = arguments.Flags.Where(f => f.Key.Flag == TorchThreadsFlag).ToArray();
            var coordinatorOnly = arguments.Flags.Where(f => f.Key.Flag != TorchThreadsFlag).Select(f => f.Key.Flag)
                .Concat(new[] { ("--out", arguments.Output), ("--resume", arguments.Resume) }.Where(o => o.Item2 is not null).Select(o => o.Item1))
                .Concat(parse.GetResult(discriminatorNodes) is { Implicit: false } ? ["--discriminator-nodes"] : [])
                .Concat(parse.GetResult(waitTimeout) is { Implicit: false } ? ["--wait-timeout"] : [])
                .ToArray();
            if (coordinatorOnly.Length > 0)
                throw new SettingsException($"{string.Join(", ", coordinatorOnly)}: only the coordinator's node takes training settings and outputs " +
                                            "(it sends its settings to every entity); give them to the node with --roles coordinator");
            return Serve(member, arguments.ConfigFile, nodeFlags, control.Read(parse) with { HealthPort = parse.GetValue(healthPort) });
        });
        return command;
    }

    /// <summary>
    /// A standby coordinator continues another node's run: it needs the coordinator role, the run's id and a store the
    /// other nodes write to (a default <c>state.db</c> under its own run folder would be a different, empty store).
    /// </summary>
    private static void CheckStandby(MemberOptions member, string? configFile)
    {
        if (!member.Has(Roles.Coordinator)) throw new SettingsException("--standby: only a node with the coordinator role can take the coordinator over");
        var missing = StandbyMissing(SettingsLoader.LoadConfig(configFile));
        if (missing.Count > 0) throw new SettingsException($"--standby needs {string.Join(" and ", missing)}");
    }

    /// <summary>What a standby coordinator lacks in <paramref name="config"/> (nothing: it can continue another node's run).</summary>
    internal static IReadOnlyList<string> StandbyMissing(Akka.Configuration.Config config)
    {
        var missing = new List<string>();
        if (StateStore.From(config) is null) missing.Add("akkagan.persistence.connection-string (a store every node reaches: one SQLite file on this machine, or PostgreSQL)");
        if ((config.GetString($"{StateStore.Section}.run-id", "") ?? "").Length == 0) missing.Add("akkagan.persistence.run-id (the same on the coordinator's node and here)");
        return missing;
    }

    /// <summary>How the node finds its cluster, for its start line.</summary>
    internal static string Joins(MemberOptions member) => member.Discovery is { } discovery ? discovery.Describe()
        : $"seeds {(member.Seeds.Count == 0 ? "(self)" : string.Join(",", member.Seeds))}";

    /// <summary>The one training flag a node without the coordinator role takes: it sizes that node's own torch threads.</summary>
    private const string TorchThreadsFlag = "--torch-threads";

    /// <summary>Hosts this node's entities until a signal (or the actor system ending) stops it.</summary>
    /// <param name="ownFlags">Flags over this node's own settings (<see cref="TorchThreadsFlag"/> only).</param>
    private static int Serve(MemberOptions member, string? configFile, IReadOnlyList<(SettingKeys.Key Key, string Value)> ownFlags,
        NodeFlags flags)
    {
        var config = SettingsLoader.LoadConfig(configFile);
        // A node without the coordinator role has no run folder: it uses a state store only when one is configured
        // (a SQLite file every node on this machine names, or PostgreSQL); otherwise its entities' recoveries are pushed.
        var node = NodeSettings.Bind(config, flags, $"akkagan node {member.Host}:{member.Port} ({string.Join(",", member.Roles)})");
        ControlHost.Warn(node);
        using var metricsExport = Output.MetricsExport.Start(node.Metrics, "akkagan-node");
        // This node's own settings are checked too (a typo in a shared config file is found at start), and they size
        // its torch threads; the training settings themselves arrive from the coordinator.
        var own = ownFlags.Aggregate(SettingsLoader.Bind(config, new TrainingSettings()), (s, f) => SettingKeys.Apply(f.Key, s, f.Value, f.Key.Flag)).Validate();
        set_num_threads(RunData.TorchThreads(own));
        using var host = ClusterEngine.BuildHost(config, member, RunData.Shared(Console.WriteLine), signalsStopTheNode: true, node,
            line => Console.WriteLine($"akkagan node {member.PublicHost ?? member.Host}:{member.Port}: discovery: {line}"));
        Runtime.AkkaPort.EnsureFree(node, flags);
        Runtime.AkkaPort.StartAsync(host, member, CancellationToken.None).GetAwaiter().GetResult();
        var system = host.Services.GetRequiredService<ActorSystem>();
        var cluster = Akka.Cluster.Cluster.Get(system);
        Console.WriteLine($"akkagan node {cluster.SelfAddress}: roles {string.Join(",", member.Roles)}, " +
                          $"{Joins(member)}, torch threads {get_num_threads()}; " +
                          "Ctrl-C or SIGTERM leaves the cluster");
        cluster.RegisterOnMemberUp(() => Console.WriteLine($"akkagan node {cluster.SelfAddress}: up"));
        cluster.RegisterOnMemberRemoved(() => Console.WriteLine($"akkagan node {cluster.SelfAddress}: left the cluster"));
        // The gan palette is the training's: this node forwards it to the node that trains.
        var controlServer = ControlHost.TryStart(node.Control,
            [new RelayedPalette(system, GanPalette.Described, Roles.Coordinator), new ClusterPalette(system), new ShardingPalette(system), new ActorPalette(system)],
            flags.ControlPort is not null);
        using var health = Runtime.HealthEndpoint.Start(system, member.Roles, node.Probes);
        if (health is not null) Console.WriteLine($"akkagan node {cluster.SelfAddress}: health at {health.Address}/alive and /ready");
        try
        {
            host.WaitForShutdown();
        }
        finally
        {
            controlServer?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        return 0;
    }
}
