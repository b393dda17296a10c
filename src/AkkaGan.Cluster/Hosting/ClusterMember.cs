using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Remote.Hosting;
using AkkaGan.Cluster.Configuration;
using AkkaGan.Cluster.Coordinator;
using AkkaGan.Cluster.Discriminator;
using AkkaGan.Cluster.Generator;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Core.Data;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Settings;

namespace AkkaGan.Cluster.Hosting;

/// <summary>
/// Where a node listens, which roles it carries and whom it joins: its <see cref="Seeds"/>, or the cluster
/// <see cref="Discovery"/> finds; neither: the node joins itself (it is the first node, or the only one).
/// </summary>
/// <param name="PublicHost">The host name other nodes reach this one by (containers, NAT); null: <paramref name="Host"/>.</param>
public sealed record MemberOptions(IReadOnlyList<string> Roles, string Host, int Port, IReadOnlyList<string> Seeds, string? PublicHost = null)
{
    /// <summary>The actor system's name: every AkkaGan node joins a cluster of this name.</summary>
    public const string SystemName = "akkagan";

    /// <summary>Every role, as the embedded one-node cluster has them.</summary>
    public static readonly IReadOnlyList<string> AllRoles = [Hosting.Roles.Coordinator, Hosting.Roles.Generator, Hosting.Roles.Discriminator];

    /// <summary>The embedded engine's node: all roles, 127.0.0.1, an ephemeral port, joined to itself.</summary>
    public static MemberOptions Embedded { get; } = new(AllRoles, "127.0.0.1", 0, []);

    /// <summary>How the node finds its cluster when it has no <see cref="Seeds"/> (null: it joins itself).</summary>
    public DiscoverySettings? Discovery { get; init; }

    /// <summary>Whether the node has <paramref name="role"/>.</summary>
    public bool Has(string role) => Roles.Contains(role);

    /// <summary>
    /// Parses <c>generator,discriminator</c>-style role lists and <c>host:port</c> seed lists; every problem is
    /// reported as a <see cref="SettingsException"/> naming the flag and the value.
    /// </summary>
    public static MemberOptions Parse(string roles, string host, int port, string? seeds, string? publicHost)
    {
        var roleList = roles.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (roleList.Length == 0) throw new SettingsException("--roles: give at least one of coordinator, generator, discriminator");
        foreach (var role in roleList)
            if (!AllRoles.Contains(role)) throw new SettingsException($"--roles: unknown role '{role}' (valid: {string.Join(", ", AllRoles)})");
        if (port is < 0 or > 65535) throw new SettingsException($"--port: {port} is not a TCP port (0-65535; 0 = any free port)");
        if (string.IsNullOrWhiteSpace(host)) throw new SettingsException("--host: empty host name");
        var seedList = (seeds ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var seed in seedList) _ = SeedAddress(seed);
        return new MemberOptions([.. roleList.Distinct()], host, port, seedList, string.IsNullOrWhiteSpace(publicHost) ? null : publicHost);
    }

    /// <summary><c>host:port</c> as the address of an AkkaGan node (<c>akka.ssl.tcp</c> when the cluster uses TLS).</summary>
    public static Address SeedAddress(string seed, bool tls = false)
    {
        var colon = seed.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(seed[(colon + 1)..], out var port) || port is <= 0 or > 65535)
            throw new SettingsException($"--seeds: '{seed}' is not HOST:PORT (e.g. 127.0.0.1:4053)");
        return new Address(tls ? "akka.ssl.tcp" : "akka.tcp", SystemName, seed[..colon], port);
    }
}

/// <summary>One AkkaGan cluster member as a list of <c>Add*</c> calls: what its roles host, proxies for the rest.</summary>
public static class ClusterMember
{
    /// <summary>
    /// Remoting and clustering for <paramref name="options"/>, then for each role its entities (shard regions for the
    /// roles this node carries, region proxies for the others) and, on coordinator nodes, the coordinator singleton.
    /// </summary>
    /// <param name="data">Loads the real data the run's settings name, on discriminator nodes.</param>
    /// <param name="store">The node's state store (<see cref="StateStore.From"/>); null: none, entities keep no state beyond checkpoints.</param>
    /// <param name="report">Hears how <see cref="MemberOptions.Discovery"/> finds the cluster, a line per change.</param>
    /// <param name="playAhead">Whether the coordinator sends the next round ahead of the current one's result (<c>akkagan.cluster.play-ahead</c>).</param>
    public static AkkaConfigurationBuilder AddAkkaGanMember(this AkkaConfigurationBuilder builder, Config config, MemberOptions options,
        Func<TrainingSettings, IRealData> data, TimeSpan stepTimeout, StateStore? store = null, Action<string>? report = null, bool playAhead = false)
        => builder.AddAkkaGanMember(config, options, data, stepTimeout, store, NodeTls.From(config), report, playAhead);

    /// <summary>As above, with the node's settings bound once at start (<see cref="NodeSettings.Bind"/>: the certificate is read there).</summary>
    public static AkkaConfigurationBuilder AddAkkaGanMember(this AkkaConfigurationBuilder builder, Config config, MemberOptions options,
        Func<TrainingSettings, IRealData> data, NodeSettings node, Action<string>? report = null)
        => builder.AddAkkaGanMember(config, options, data, node.StepTimeout, node.Store, node.Tls, report, node.PlayAhead);

    /// <summary>
    /// What the coordinator's metrics load: a user's points or images compare against their held-out rows, which every
    /// shard holds, so with data-shards one shard (not the whole dataset) is loaded; the built-in datasets load whole.
    /// </summary>
    private static TrainingSettings MetricsData(TrainingSettings settings)
        => settings.Dataset is DatasetKind.Points or DatasetKind.Images ? settings.ForDataShard(0) : settings;

    private static AkkaConfigurationBuilder AddAkkaGanMember(this AkkaConfigurationBuilder builder, Config config, MemberOptions options,
        Func<TrainingSettings, IRealData> data, TimeSpan stepTimeout, StateStore? store, NodeTls? tls, Action<string>? report, bool playAhead)
    {
        if (options.Discovery is not null && options.Seeds.Count > 0)
            throw new SettingsException($"--seeds and {options.Discovery.Describe()}: give the node one way to find its cluster");
        builder
            .AddHocon(config, HoconAddMode.Append)
            .WithRemoting(tls is null
                ? new RemoteOptions { HostName = options.Host, Port = options.Port, PublicHostName = options.PublicHost }
                : new RemoteOptions { HostName = options.Host, Port = options.Port, PublicHostName = options.PublicHost, EnableSsl = true, Ssl = tls.ToSslOptions() })
            .WithClustering(new ClusterOptions
            {
                Roles = [.. options.Roles],
                SeedNodes = [.. options.Seeds.Select(s => MemberOptions.SeedAddress(s, tls is not null).ToString())],
            });
        if (options.Discovery is { } discovery)
        {
            builder.AddHocon(discovery.ToHocon(), HoconAddMode.Prepend);
            builder.WithActors((system, _) => system.ActorOf(SeedDiscovery.Props(discovery, tls is not null, report ?? (_ => { })), SeedDiscovery.Name));
        }
        else if (options.Seeds.Count == 0)
            builder.AddStartup((system, _) => Akka.Cluster.Cluster.Get(system).Join(Akka.Cluster.Cluster.Get(system).SelfAddress));

        builder.AddStateStore(store);
        var stores = store is not null;
        // Registration order matters: the generator's props read the discriminator region, the coordinator both.
        if (options.Has(Roles.Discriminator)) builder.AddDiscriminators(data, stores);
        else builder.AddDiscriminatorProxy();
        if (options.Has(Roles.Generator)) builder.AddGenerator(stores);
        else builder.AddGeneratorProxy();
        if (options.Has(Roles.Coordinator)) builder.AddCoordinator(stepTimeout, settings => EvaluationMetrics.Create(settings, data(MetricsData(settings))), stores, playAhead);
        return builder;
    }
}
