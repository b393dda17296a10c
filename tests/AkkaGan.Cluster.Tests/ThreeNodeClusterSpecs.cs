using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using AkkaGan.Cluster.Coordinator;
using AkkaGan.Cluster.Discriminator;
using AkkaGan.Cluster.Generator;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// Three ActorSystems in one process, joined over real remoting on loopback (the pattern of Akka.NET's own sharding
/// specs; the MultiNode runner is not available): node A carries the coordinator and the generator, nodes B and C
/// the discriminators. Every tensor crosses a node boundary through the serializer.
/// </summary>
public sealed class ThreeNodeClusterSpecs : MultiNodeSpec
{
    protected override string SystemName => "akkagan-3";

    // Akka.Remote's default 128 KB frame, 16 KiB chunks and no bulk channel: snapshots (~200 KB) and evaluation
    // samples cross the nodes only because they are chunked (the other multi-node specs take the bulk channel).
    protected override string Hocon => """
        akka.remote.dot-netty.tcp.maximum-frame-size = 128000b
        akkagan.wire.chunk-size = 16 KiB
        akkagan.wire.bulk.enabled = off
        """;

    public override async ValueTask InitializeAsync()
    {
        var a = await Node([Roles.Coordinator, Roles.Generator], null, b => b.AddDiscriminatorProxy().AddGenerator().AddCoordinator(TimeSpan.FromSeconds(30)));
        foreach (var _ in new[] { "b", "c" }) await Node([Roles.Discriminator], AddressOf(a), b => b.AddDiscriminators(RunData.Create));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Three_nodes_should_train_to_the_reference_engines_parameters()
    {
        var systemA = System(Hosts[0]);
        var kit = new Akka.TestKit.Xunit.TestKit(systemA);
        kit.AwaitAssert(() => Assert.Equal(3, Akka.Cluster.Cluster.Get(systemA).State.Members.Count(m => m.Status == MemberStatus.Up)),
            TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);

        var settings = new TrainingSettings
        {
            // Default-sized networks: a discriminator's snapshot (weights + Adam moments, ~200 KB) exceeds the 128 KB
            // frame set above, so evolution (D -> D) and checkpoints prove the chunking.
            Batch = 32, LatentDim = 8, Rounds = 4, EvalEvery = 2, CheckpointEvery = 4, EvalSamples = 200,
            Unroll = 2, UnrollOrder = UnrollOrder.Second, Discriminators = 3, Aggregate = AggregationKind.Softmax, EvolveEvery = 2,
        };
        var probe = kit.CreateTestProbe();
        Hosts[0].Services.GetRequiredService<ActorRegistry>().Get<CoordinatorSingleton>()
            .Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));

        var (final, events) = EngineEquivalence.FollowToCompletion(probe, settings, TimeSpan.FromSeconds(90));

        // The coordinator reports where each entity runs: the generator on A, every discriminator on B or C.
        var placed = Assert.Single(events.OfType<C.Placed>()).Nodes;
        var addressOf = Hosts.Select(h => Akka.Cluster.Cluster.Get(System(h)).SelfAddress.ToString()).ToArray();
        Assert.Equal(addressOf[0], placed["g-0"]);
        Assert.All(Enumerable.Range(0, 3), i => Assert.Contains(placed[$"d-{i}"], addressOf[1..]));

        // The discriminators live on B and C (A has only a proxy): count the entities their regions host.
        var hosted = 0;
        foreach (var host in Hosts.Skip(1))
        {
            var region = Akka.Cluster.Sharding.ClusterSharding.Get(System(host)).ShardRegion(Roles.Discriminator);
            var state = await region.Ask<Akka.Cluster.Sharding.CurrentShardRegionState>(Akka.Cluster.Sharding.GetShardRegionState.Instance, TimeSpan.FromSeconds(5), cancellationToken: TestContext.Current.CancellationToken);
            hosted += state.Shards.Sum(shard => shard.EntityIds.Count);
        }
        Assert.Equal(3, hosted);

        EngineEquivalence.AssertSameAsReference(settings, final);
    }
}
