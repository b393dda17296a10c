using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using AkkaGan.Cluster.Control;
using AkkaGan.Control;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// The control plane's <c>cluster-sharding</c> palette on a real one-node cluster (remoting on loopback, joined to
/// itself) running a small region of a test entity type, and a proxy of a type no node hosts.
/// </summary>
public sealed class ShardingPaletteSpecs : Akka.TestKit.Xunit.TestKit
{
    private const string Type = "counter";

    private static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
        akka.cluster.roles = [tester]
        """).WithFallback(AkkaGanConfig.Default());

    public ShardingPaletteSpecs() : base(Config, "akkagan") { }

    private async Task<List<string>> Run(string command, params string[] args)
    {
        var lines = new List<string>();
        await foreach (var line in new ShardingPalette(Sys).ExecuteAsync(command, args, CancellationToken.None)) lines.Add(line);
        return lines;
    }

    private Akka.Cluster.Cluster Cluster => Akka.Cluster.Cluster.Get(Sys);

    /// <summary>Joins the node to itself, starts the <c>counter</c> region and creates an entity for each id.</summary>
    private IActorRef StartRegionWith(params string[] entities)
    {
        Cluster.Join(Cluster.SelfAddress);
        AwaitCondition(() => Cluster.SelfMember.Status == MemberStatus.Up, TimeSpan.FromSeconds(20));
        var region = ClusterSharding.Get(Sys).Start(Type, Props.Create<Counter>(), ClusterShardingSettings.Create(Sys).WithRole("tester"), new CounterExtractor());
        foreach (var id in entities)
        {
            region.Tell(new Count(id), TestActor);
            ExpectMsg(id, TimeSpan.FromSeconds(10));
        }
        return region;
    }

    [Fact]
    public async Task Regions_should_list_the_type_with_this_nodes_region_and_its_entities()
    {
        StartRegionWith("e-1", "e-2", "e-3");
        ClusterSharding.Get(Sys).StartProxy("elsewhere", "nobody", new CounterExtractor());
        var lines = await Run("regions");
        var header = lines.IndexOf($"{Type}: 1 region(s)");
        Assert.True(header >= 0, string.Join('\n', lines));
        var shards = new[] { "e-1", "e-2", "e-3" }.Select(id => new CounterExtractor().ShardId(id, new Count(id))).Distinct().Count();
        var row = lines[header + 2].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([Cluster.SelfAddress.ToString(), shards.ToString(), "3", "(this", "node)"], row);
        Assert.Contains("elsewhere: 0 region(s), proxy on this node (no local region)", lines);
        Assert.Equal("2 shard type(s), 1 region(s), 3 entities", lines[^1]);
        Assert.Equal("elsewhere: this node has a proxy, no region; the regions are on no node yet", Assert.Single(await Run("region-stats", "-r", "elsewhere")));
    }

    [Fact]
    public async Task Region_stats_should_list_each_shard_with_its_entities()
    {
        StartRegionWith("e-1", "e-2", "e-3", "e-4");
        var extractor = new CounterExtractor();
        var expected = new[] { "e-1", "e-2", "e-3", "e-4" }.GroupBy(id => extractor.ShardId(id, new Count(id))).ToList();
        var lines = await Run("region-stats", "-r", Type);
        Assert.Equal(await Run("region-stats", "--type", Type), lines);
        foreach (var shard in expected)
            Assert.Contains(lines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is var cells
                                        && cells[0] == shard.Key && cells[1] == shard.Count().ToString() && cells[2] == string.Join(",", shard.Order(StringComparer.Ordinal)));
        Assert.Equal($"{Type} on {Cluster.SelfAddress}: {expected.Count} shard(s), 4 entities", lines[^1]);
    }

    [Fact]
    public async Task Region_stats_should_refuse_an_unknown_or_missing_type_naming_the_known_ones()
    {
        StartRegionWith();
        var unknown = await Assert.ThrowsAsync<ControlCommandException>(() => Run("region-stats", "-r", "nonsense"));
        Assert.Contains($"unknown shard type 'nonsense' (known types: {Type})", unknown.Message);
        var missing = await Assert.ThrowsAsync<ControlCommandException>(() => Run("region-stats"));
        Assert.Contains($"give the shard type with -r TYPE (known types: {Type})", missing.Message);
        Assert.Contains("unexpected arguments", (await Assert.ThrowsAsync<ControlCommandException>(() => Run("regions", "x"))).Message);
    }

    private sealed record Count(string Id);

    /// <summary>A trivial entity: answers each message with its own id, so a test knows it exists.</summary>
    private sealed class Counter : ReceiveActor
    {
        public Counter() => Receive<Count>(_ => Sender.Tell(Self.Path.Name));
    }

    private sealed class CounterExtractor() : HashCodeMessageExtractor(maxNumberOfShards: 10)
    {
        public override string? EntityId(object message) => (message as Count)?.Id;
    }
}
