using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using AkkaGan.Cluster.Coordinator;
using AkkaGan.Cluster.Discriminator;
using AkkaGan.Cluster.Generator;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;
using S = AkkaGan.Cluster.Protocol.StateProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// The embedded one-node cluster with the run's state store (what `akkagan train` starts): entities write their
/// checkpoint rounds to <c>state.db</c>, and a coordinator started again under the same run id continues from it.
/// </summary>
public sealed class OneNodeStateStoreSpecs : IDisposable
{
    private readonly string _folder = StoreFixture.NewFolder();

    public void Dispose() => StoreFixture.Delete(_folder);

    private static TrainingSettings Settings => new()
    {
        Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = 6, EvalEvery = 6, CheckpointEvery = 3, EvalSamples = 200,
        Unroll = 1, Discriminators = 2,
    };

    internal static async Task<IHost> StartNodeAsync(StateStore store)
    {
        var host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka("akkagan-store-spec", builder => builder
                .AddEmbeddedCluster(AkkaGanConfig.Default(), RunData.Create, TimeSpan.FromSeconds(30), store)))
            .Build();
        await host.StartAsync();
        return host;
    }

    [Fact]
    [Trait("Category", "Slow")]
    public Task Entities_should_write_each_checkpoint_round_to_the_runs_state_db_as_the_checkpoint_holds_it()
        => TrainAndCompareWithStoreAsync(StoreFixture.Sqlite(_folder, "spec-run"),
            () => Assert.True(new FileInfo(Path.Combine(_folder, StateStore.FileName)).Length > 0));

    /// <summary>
    /// Trains 6 rounds (checkpoints at 3 and 6) on an embedded node with <paramref name="store"/>, then reads every
    /// entity's snapshot of both rounds and the coordinator's position back through the store.
    /// </summary>
    internal static async Task TrainAndCompareWithStoreAsync(StateStore store, Action? more = null)
    {
        var settings = Settings;
        var run = store.RunId;
        using var host = await StartNodeAsync(store);
        var system = host.Services.GetRequiredService<ActorSystem>();
        var probe = new Akka.TestKit.Xunit.TestKit(system).CreateTestProbe();
        host.Services.GetRequiredService<ActorRegistry>().Get<CoordinatorSingleton>()
            .Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref, run));
        var (final, events) = EngineEquivalence.FollowToCompletion(probe, settings, TimeSpan.FromSeconds(90));

        var checkpoints = events.OfType<C.CheckpointTaken>().Select(c => c.Checkpoint).ToList();
        Assert.Equal([3L, 6L], checkpoints.Select(c => c.Metadata.Round));
        foreach (var entity in checkpoints[1].Entities)
        {
            // Read back through the store: the bytes of the file checkpoint, bit for bit.
            var stored = Assert.IsType<S.EntityState>(await StoreFixture.LoadAsync(system, $"{run}/{entity.EntityId}", 6));
            Assert.Equal(6, stored.Round);
            Assert.Equal(StoreFixture.Bytes(entity), StoreFixture.Bytes(stored.Snapshot));
        }
        // Round 3's snapshots were stored too, and deleted once the position of round 6 was: the store keeps one checkpoint.
        var kit = new Akka.TestKit.Xunit.TestKit(system);
        foreach (var entity in checkpoints[0].Entities.Select(e => e.EntityId).Append("coordinator"))
            await kit.AwaitAssertAsync(async () => Assert.Null(await StoreFixture.LoadAsync(system, $"{run}/{entity}", 3)), TimeSpan.FromSeconds(30));
        var position = Assert.IsType<S.RunPosition>(await StoreFixture.LoadAsync(system, $"{run}/coordinator"));
        Assert.Equal(6, position.Round);
        Assert.Equal(["d-0", "d-1", "g-0"], position.Stored.Select(s => s.EntityId));
        Assert.All(position.Stored, s => Assert.Equal(6, s.Round));
        Assert.Equal(SettingsJson.Serialize(settings), position.SettingsJson);
        more?.Invoke();
        EngineEquivalence.AssertSameAsReference(settings, final);
        await host.StopAsync();
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_coordinator_started_again_under_the_same_run_id_should_continue_from_the_stored_position()
    {
        // A run that only the test ends: each life is stopped at an event, never raced against the number of rounds.
        var settings = Settings with { Rounds = EngineEquivalence.Endless, LrDecay = LrDecay.None, EvalEvery = 1000 };
        var store = StoreFixture.Sqlite(_folder, "restarted-run");
        // First life: stopped after round 3's checkpoint (the stop checkpoints the round it stops at).
        long stoppedAt;
        using (var first = await StartNodeAsync(store))
        {
            var probe = new Akka.TestKit.Xunit.TestKit(first.Services.GetRequiredService<ActorSystem>()).CreateTestProbe();
            var coordinator = first.Services.GetRequiredService<ActorRegistry>().Get<CoordinatorSingleton>();
            coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref, store.RunId));
            (_, _, stoppedAt) = EngineEquivalence.FollowUntilStopped(probe, coordinator,
                (message, _) => message is C.CheckpointTaken { Checkpoint.Metadata.Round: 3 }, TimeSpan.FromSeconds(90));
            await first.StopAsync(cancellationToken: TestContext.Current.CancellationToken);
        }
        Assert.True(stoppedAt >= 3);

        // Second life: a new node, the same store and run id, no checkpoint given; other settings are ignored for the stored ones.
        using var second = await StartNodeAsync(store);
        var kit = new Akka.TestKit.Xunit.TestKit(second.Services.GetRequiredService<ActorSystem>());
        var observer = kit.CreateTestProbe();
        var restarted = second.Services.GetRequiredService<ActorRegistry>().Get<CoordinatorSingleton>();
        restarted.Tell(new C.StartTraining(SettingsJson.Serialize(settings with { Seed = 99 }), null, observer.Ref, store.RunId));
        var (final, events, _) = EngineEquivalence.FollowUntilStopped(observer, restarted,
            (message, _) => message is C.RoundCompleted { Report.Round: var round } && round >= stoppedAt + 3, TimeSpan.FromSeconds(90));
        var resumed = Assert.Single(events.OfType<C.Faulted>().Select(f => f.Report), f => f.Event == "resumed");
        Assert.Equal(stoppedAt, resumed.Round);
        Assert.Contains($"round {stoppedAt}", resumed.Detail, StringComparison.Ordinal);
        Assert.Equal(stoppedAt + 1, events.OfType<C.RoundCompleted>().First().Report.Round);
        // Stopped, restarted from the store, stopped again: the reference engine's parameters after as many rounds, bit for bit.
        EngineEquivalence.AssertSameAsReference(settings with { Rounds = (int)final!.Metadata.Round }, final);
        await second.StopAsync(cancellationToken: TestContext.Current.CancellationToken);
    }
}

/// <summary>
/// A discriminator node that crashes (no hand-off) in a three-node cluster sharing one SQLite file: its member lands
/// on the surviving node and loads its own snapshot of the last checkpoint from the store; the coordinator pushes nothing.
/// </summary>
public sealed class StoreRecoverySpecs : MultiNodeSpec
{
    private readonly string _folder = StoreFixture.NewFolder();
    private StateStore _store = null!;

    protected override string SystemName => "akkagan-store-loss";

    // A crashed node is downed after 3 s of stable membership; terminating a system does not run CoordinatedShutdown,
    // so its entities never hand their state over, like a killed process.
    protected override string Hocon => """
        akka.cluster.split-brain-resolver.stable-after = 3s
        akka.coordinated-shutdown.run-by-actor-system-terminate = off
        """;

    public override async ValueTask InitializeAsync()
    {
        _store = StoreFixture.Sqlite(_folder, "loss-run");
        var a = await Node([Roles.Coordinator, Roles.Generator], null,
            b => b.AddStateStore(_store).AddDiscriminatorProxy().AddGenerator(store: true).AddCoordinator(TimeSpan.FromSeconds(3), store: true));
        for (var i = 0; i < 2; i++) await Node([Roles.Discriminator], AddressOf(a), b => b.AddStateStore(_store).AddDiscriminators(RunData.Create, store: true));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_crashed_discriminator_nodes_member_should_recover_its_own_snapshot_from_the_store()
    {
        var systemA = System(Hosts[0]);
        var kit = new Akka.TestKit.Xunit.TestKit(systemA);
        kit.AwaitAssert(() => Assert.Equal(3, Akka.Cluster.Cluster.Get(systemA).State.Members.Count(m => m.Status == MemberStatus.Up)), TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        var settings = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = EngineEquivalence.Endless, LrDecay = LrDecay.None, EvalEvery = 1000,
            CheckpointEvery = 10, EvalSamples = 200, Unroll = 1, Discriminators = 2,
            // Both members must take part: once d-0 is suspended no round is played until it is back.
            Quorum = 2,
        };
        var probe = kit.CreateTestProbe();
        var registry = Hosts[0].Services.GetRequiredService<ActorRegistry>();
        await ClusterReadiness.WaitAsync(systemA, registry, 1, 2, _ => { }, TimeSpan.FromSeconds(30), CancellationToken.None);
        var coordinator = registry.Get<CoordinatorSingleton>();
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref, _store.RunId));

        var placed = probe.FishForMessage<C.Placed>(_ => true, TimeSpan.FromSeconds(60), cancellationToken: TestContext.Current.CancellationToken).Nodes;
        Assert.NotEqual(placed["d-0"], placed["d-1"]);
        var victim = Hosts.Skip(1).Single(h => Akka.Cluster.Cluster.Get(System(h)).SelfAddress.ToString() == placed["d-0"]);
        Task? crashing = null;
        FaultReport? back = null;
        var (_, events, _) = EngineEquivalence.FollowUntilStopped(probe, coordinator, (message, _) =>
        {
            if (message is C.RoundCompleted { Report.Round: >= 25 } && crashing is null) crashing = System(victim).Terminate();
            if (message is C.Faulted { Report: { Entity: "d-0", Event: "recovered" } recovered }) back = recovered;
            return message is C.RoundCompleted { Report.Round: var round } && back is not null && round > back.Round + 3;
        }, TimeSpan.FromSeconds(90));
        await crashing!;
        Hosts.Remove(victim);
        await victim.StopAsync(cancellationToken: TestContext.Current.CancellationToken);
        victim.Dispose();

        var faults = events.OfType<C.Faulted>().Select(f => f.Report).ToList();
        var suspended = Assert.Single(faults, f => f.Event == "suspended" && f.Entity == "d-0");
        var recovered = Assert.Single(faults, f => f.Event == "recovered" && f.Entity == "d-0");
        // Restored from its own snapshot of the checkpoint round the coordinator expected, on the surviving node.
        // That is the last checkpoint it took part in: the one before it was suspended (later ones keep that state for it).
        var match = global::System.Text.RegularExpressions.Regex.Match(recovered.Detail, @"its own snapshot of round (\d+) in the state store");
        Assert.True(match.Success, recovered.Detail);
        var round = long.Parse(match.Groups[1].Value, global::System.Globalization.CultureInfo.InvariantCulture);
        var lastTaken = events.OfType<C.CheckpointTaken>().Select(c => c.Checkpoint.Metadata.Round).Where(r => r < suspended.Round).Max();
        Assert.Equal(lastTaken, round);
        Assert.True(recovered.Round >= suspended.Round);
        Assert.DoesNotContain(faults, f => f.Event == "rolled-back");
        var survivor = Akka.Cluster.Cluster.Get(System(Hosts[1])).SelfAddress.ToString();
        Assert.Contains($"on {survivor}", recovered.Detail, StringComparison.Ordinal);
        // Both take part again after the recovery.
        var rounds = events.OfType<C.RoundCompleted>().Select(r => r.Report).ToList();
        Assert.All(rounds.Where(r => r.Round > recovered.Round + 1), r => Assert.Equal([0, 1], r.Discriminators.Select(d => d.Member)));
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        StoreFixture.Delete(_folder);
    }
}

/// <summary>
/// The generator's node crashes, with a standby generator node and one SQLite file shared by every node: the run rolls
/// back to the last checkpoint with every entity loading its own snapshot from the store (nothing is pushed), and the
/// rounds replayed from there end at the reference engine's parameters.
/// </summary>
public sealed class GeneratorStoreRecoverySpecs : MultiNodeSpec
{
    private readonly string _folder = StoreFixture.NewFolder();
    private StateStore _store = null!;

    protected override string SystemName => "akkagan-store-gloss";

    protected override string Hocon => """
        akka.cluster.split-brain-resolver.stable-after = 3s
        akka.coordinated-shutdown.run-by-actor-system-terminate = off
        """;

    public override async ValueTask InitializeAsync()
    {
        _store = StoreFixture.Sqlite(_folder, "gloss-run");
        var a = await Node([Roles.Coordinator, Roles.Discriminator], null,
            b => b.AddStateStore(_store).AddDiscriminators(RunData.Create, store: true).AddGeneratorProxy().AddCoordinator(TimeSpan.FromSeconds(3), store: true));
        for (var i = 0; i < 2; i++) await Node([Roles.Generator], AddressOf(a), b => b.AddStateStore(_store).AddDiscriminatorProxy().AddGenerator(store: true));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_crashed_generator_node_should_roll_back_with_every_entity_loading_its_snapshot_from_the_store()
    {
        var settings = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = EngineEquivalence.Endless, LrDecay = LrDecay.None, EvalEvery = 1000,
            CheckpointEvery = 20, EvalSamples = 200, Unroll = 1, Discriminators = 2,
        };
        var systemA = System(Hosts[0]);
        var kit = new Akka.TestKit.Xunit.TestKit(systemA);
        kit.AwaitAssert(() => Assert.Equal(3, Akka.Cluster.Cluster.Get(systemA).State.Members.Count(m => m.Status == MemberStatus.Up)), TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        var probe = kit.CreateTestProbe();
        var registry = Hosts[0].Services.GetRequiredService<ActorRegistry>();
        await ClusterReadiness.WaitAsync(systemA, registry, 2, 1, _ => { }, TimeSpan.FromSeconds(30), CancellationToken.None);
        var coordinator = registry.Get<CoordinatorSingleton>();
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref, _store.RunId));
        IHost? victim = null;
        Task? crashing = null;
        long? lastBefore = null;
        // Stopped once the rounds replayed after the roll-back have gone past the last round played before the crash.
        var (final, events, _) = EngineEquivalence.FollowUntilStopped(probe, coordinator, (message, events) =>
        {
            if (message is C.Placed { Nodes: var placed } && placed.TryGetValue("g-0", out var node) && victim is null)
                victim = Hosts.Skip(1).Single(h => Akka.Cluster.Cluster.Get(System(h)).SelfAddress.ToString() == node);
            if (message is C.RoundCompleted { Report.Round: >= 50 } && crashing is null) crashing = System(victim!).Terminate();
            if (message is C.Faulted { Report.Event: "rolled-back" }) lastBefore = events.OfType<C.RoundCompleted>().Max(r => r.Report.Round);
            return message is C.RoundCompleted { Report.Round: var round } && round > lastBefore;
        }, TimeSpan.FromSeconds(90));
        await crashing!;
        Hosts.Remove(victim!);
        await victim!.StopAsync(cancellationToken: TestContext.Current.CancellationToken);
        victim.Dispose();

        var faults = events.OfType<C.Faulted>().Select(f => f.Report).ToList();
        Assert.Single(faults, f => f.Event == "rolled-back");
        var restored = Assert.Single(faults, f => f.Event == "restored");
        // The last checkpoint before the crash (the observer sees the coordinator's events in order).
        var lastCheckpoint = events.TakeWhile(e => e is not C.Faulted { Report.Event: "rolled-back" }).OfType<C.CheckpointTaken>().Last().Checkpoint.Metadata.Round;
        Assert.Contains($"back to the checkpoint of round {lastCheckpoint}:", restored.Detail, StringComparison.Ordinal);
        Assert.Contains("g-0, d-0, d-1 loaded their own snapshots from the state store", restored.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("sent by the coordinator", restored.Detail, StringComparison.Ordinal);
        // The rounds since the checkpoint are played again from the stored state: the end is the reference engine's after
        // as many rounds, bit for bit.
        EngineEquivalence.AssertSameAsReference(settings with { Rounds = (int)final!.Metadata.Round }, final);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        StoreFixture.Delete(_folder);
    }
}
