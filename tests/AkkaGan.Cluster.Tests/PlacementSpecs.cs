using Akka.Actor;
using Akka.Hosting;
using AkkaGan.Cluster.Discriminator;
using AkkaGan.Cluster.Generator;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using Microsoft.Extensions.DependencyInjection;
using E = AkkaGan.Cluster.Protocol.EntityProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// Where the population lands: three discriminator nodes and a node that addresses them through a proxy (as the
/// coordinator's node does). Each member is its own shard, placed on the node with the fewest, so a population no
/// larger than the nodes gets a node per member, a larger one an even spread, and members added later fill the
/// emptiest node.
/// </summary>
public sealed class PlacementSpecs : MultiNodeSpec
{
    protected override string SystemName => "akkagan-placement";

    public override async ValueTask InitializeAsync()
    {
        var a = await Node([Roles.Coordinator], null, b => b.AddDiscriminatorProxy().AddGeneratorProxy());
        for (var i = 0; i < 3; i++) await Node([Roles.Discriminator], AddressOf(a), b => b.AddDiscriminators(RunData.Create));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Members_should_get_a_node_each_then_spread_evenly_as_they_are_added()
    {
        var systemA = System(Hosts[0]);
        var registry = Hosts[0].Services.GetRequiredService<ActorRegistry>();
        await ClusterReadiness.WaitAsync(systemA, registry, 0, 3, _ => { }, TimeSpan.FromSeconds(60), CancellationToken.None);
        var region = registry.Get<DiscriminatorRegion>();
        var kit = new Akka.TestKit.Xunit.TestKit(systemA);
        var json = SettingsJson.Serialize(new TrainingSettings { Discriminators = 6, Batch = 16 });
        var nodes = Hosts.Skip(1).Select(h => AddressOf(h).ToString()).ToArray();
        var placed = new Dictionary<int, string>();

        void Configure(int from, int to)
        {
            var probe = kit.CreateTestProbe();
            for (var member = from; member < to; member++) region.Tell(new E.Configure(new DiscriminatorId(member).EntityId, member, json, probe.Ref));
            for (var member = from; member < to; member++)
            {
                var configured = probe.ExpectMsg<E.Configured>(TimeSpan.FromSeconds(30));
                placed[DiscriminatorId.Parse(configured.EntityId).Member] = configured.Node;
            }
        }

        int[] PerNode() => [.. nodes.Select(n => placed.Values.Count(p => p == n))];

        // As many members as nodes: one each.
        Configure(0, 3);
        Assert.Equal([1, 1, 1], PerNode());
        // Members added one at a time (as `gan add-discriminator` does): each fills a node with the fewest.
        foreach (var member in new[] { 3, 4, 5 })
        {
            Configure(member, member + 1);
            var counts = PerNode();
            Assert.True(counts.Max() - counts.Min() <= 1, $"after d-{member}: {string.Join("/", counts)} members per node");
        }
        Assert.Equal([2, 2, 2], PerNode());
    }
}
