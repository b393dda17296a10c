using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using Akka.Remote;
using Akka.Remote.Transport;
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
/// A network partition (Akka.Remote's throttler adapter in blackhole mode) cuts a discriminator node off for longer
/// than stable-after: the split-brain resolver downs it on the majority side and it downs itself on its own side, its
/// member is restored on the surviving node, and after the partition heals the cut-off copy is gone (single writer).
/// </summary>
public sealed class PartitionSpecs : MultiNodeSpec
{
    protected override string SystemName => "akkagan-split";

    protected override string Hocon => """
        akka.remote.dot-netty.tcp.applied-adapters = [trttl]
        akka.cluster.split-brain-resolver.stable-after = 3s
        """;

    public override async ValueTask InitializeAsync()
    {
        var a = await Node([Roles.Coordinator, Roles.Generator], null, b => b.AddDiscriminatorProxy().AddGenerator().AddCoordinator(TimeSpan.FromSeconds(3)));
        for (var i = 0; i < 2; i++) await Node([Roles.Discriminator], AddressOf(a), b => b.AddDiscriminators(RunData.Create));
    }

    private static Task<bool> Blackhole(ActorSystem from, Address to, bool on)
        => ((IRemoteActorRefProvider)((ExtendedActorSystem)from).Provider).Transport.ManagementCommand(
            new SetThrottle(to, ThrottleTransportAdapter.Direction.Both, on ? Akka.Remote.Transport.Blackhole.Instance : Unthrottled.Instance));

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_partitioned_discriminator_node_should_be_downed_its_member_restored_elsewhere_and_never_train_twice()
    {
        var systemA = System(Hosts[0]);
        var kit = new Akka.TestKit.Xunit.TestKit(systemA);
        kit.AwaitAssert(() => Assert.Equal(3, Akka.Cluster.Cluster.Get(systemA).State.Members.Count(m => m.Status == MemberStatus.Up)), TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        var registry = Hosts[0].Services.GetRequiredService<ActorRegistry>();
        await ClusterReadiness.WaitAsync(systemA, registry, 1, 2, _ => { }, TimeSpan.FromSeconds(30), CancellationToken.None);
        var settings = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = EngineEquivalence.Endless, LrDecay = LrDecay.None, EvalEvery = 1000,
            CheckpointEvery = 10, EvalSamples = 200, Unroll = 1, Discriminators = 2,
        };
        var probe = kit.CreateTestProbe();
        var coordinator = registry.Get<CoordinatorSingleton>();
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));

        IHost? cut = null;
        var partitioned = false;
        FaultReport? back = null;
        var (_, events, _) = EngineEquivalence.FollowUntilStopped(probe, coordinator, (message, _) =>
        {
            if (message is C.Placed { Nodes: var placed } && cut is null && placed.TryGetValue("d-0", out var node))
                cut = Hosts.Skip(1).Single(h => Akka.Cluster.Cluster.Get(System(h)).SelfAddress.ToString() == node);
            if (message is C.RoundCompleted { Report.Round: >= 25 } && !partitioned)
            {
                // Cut d-0's node off from both other nodes, in both directions.
                partitioned = true;
                var island = Akka.Cluster.Cluster.Get(System(cut!)).SelfAddress;
                foreach (var other in Hosts.Where(h => h != cut))
                {
                    Blackhole(System(other), island, on: true).GetAwaiter().GetResult();
                    Blackhole(System(cut!), Akka.Cluster.Cluster.Get(System(other)).SelfAddress, on: true).GetAwaiter().GetResult();
                }
            }
            if (message is C.Faulted { Report: { Entity: "d-0", Event: "recovered" } recovered }) back = recovered;
            // Stop once both members have taken part in a few rounds after the recovery.
            return message is C.RoundCompleted { Report.Round: var round } && back is not null && round > back.Round + 3;
        }, TimeSpan.FromSeconds(90));
        // Heal the partition: the majority side lets traffic to the island through again.
        var islandAddress = Akka.Cluster.Cluster.Get(System(cut!)).SelfAddress;
        foreach (var other in Hosts.Where(h => h != cut)) await Blackhole(System(other), islandAddress, on: false);
        // The cut-off node downed itself (keep-majority: it was the minority) and its actor system ended, so its copy of
        // d-0 can never train again, even once the network heals.
        Assert.True(await System(cut!).WhenTerminated.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken).ContinueWith(t => t.IsCompletedSuccessfully));
        var faults = events.OfType<C.Faulted>().Select(f => f.Report).ToList();
        Assert.Contains(faults, f => f is { Entity: "d-0", Event: "suspended" });
        Assert.Contains(faults, f => f is { Entity: "d-0", Event: "recovered" });
        var survivor = Hosts.Skip(1).Single(h => h != cut);
        Assert.Equal(Akka.Cluster.Cluster.Get(System(survivor)).SelfAddress.ToString(), events.OfType<C.Placed>().Last(p => p.Nodes.ContainsKey("d-0")).Nodes["d-0"]);
        // Every round after the recovery has exactly one report per member: one writer per entity.
        var recoveredAt = faults.Single(f => f is { Entity: "d-0", Event: "recovered" }).Round;
        Assert.All(events.OfType<C.RoundCompleted>().Where(r => r.Report.Round > recoveredAt + 1),
            r => Assert.Equal([0, 1], r.Report.Discriminators.Select(d => d.Member)));
        Hosts.Remove(cut!);
        cut!.Dispose();
    }
}
