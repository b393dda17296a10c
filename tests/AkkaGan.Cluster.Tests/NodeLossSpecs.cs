using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using AkkaGan.Cluster.Coordinator;
using AkkaGan.Cluster.Discriminator;
using AkkaGan.Cluster.Generator;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// A coordinator-and-generator node and two discriminator nodes (three ActorSystems in one process), and a run of two
/// members placed one per discriminator node: the ground of the discriminator-loss specs.
/// </summary>
public abstract class DiscriminatorNodeLossSpec : MultiNodeSpec
{
    public override async ValueTask InitializeAsync()
    {
        // A short step timeout: a member that does not answer is left out after 3 s instead of ten.
        var a = await Node([Roles.Coordinator, Roles.Generator], null, b => b.AddDiscriminatorProxy().AddGenerator().AddCoordinator(TimeSpan.FromSeconds(3)));
        for (var i = 0; i < 2; i++) await Node([Roles.Discriminator], AddressOf(a), b => b.AddDiscriminators(RunData.Create));
    }

    /// <summary>Two members, small networks, an endless run at a constant learning rate (the test stops it), a checkpoint every 10 rounds.</summary>
    protected static TrainingSettings TwoMembers => new()
    {
        Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = EngineEquivalence.Endless, LrDecay = LrDecay.None, EvalEvery = 1000,
        CheckpointEvery = 10, EvalSamples = 200, Unroll = 1, Discriminators = 2,
    };

    /// <summary>
    /// Starts a run of <paramref name="settings"/> once the cluster is up and both discriminator regions are registered
    /// (as the coordinator's node does, so the two members are placed on different nodes: losing one node then loses
    /// one member, not both, which would be the generator's roll-back case). Returns the run's observer, the
    /// coordinator and the node that runs d-0.
    /// </summary>
    protected async Task<(Akka.TestKit.TestProbe Probe, IActorRef Coordinator, IHost NodeOfD0)> StartWithMembersApart(TrainingSettings settings)
    {
        var systemA = System(Hosts[0]);
        var kit = new Akka.TestKit.Xunit.TestKit(systemA);
        kit.AwaitAssert(() => Assert.Equal(3, Akka.Cluster.Cluster.Get(systemA).State.Members.Count(m => m.Status == MemberStatus.Up)), TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        var probe = kit.CreateTestProbe();
        var registry = Hosts[0].Services.GetRequiredService<ActorRegistry>();
        await ClusterReadiness.WaitAsync(systemA, registry, 1, 2, _ => { }, TimeSpan.FromSeconds(30), CancellationToken.None);
        var coordinator = registry.Get<CoordinatorSingleton>();
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));
        var placed = probe.FishForMessage<C.Placed>(_ => true, TimeSpan.FromSeconds(60), cancellationToken: TestContext.Current.CancellationToken).Nodes;
        Assert.NotEqual(placed["d-0"], placed["d-1"]);
        return (probe, coordinator, Hosts.Skip(1).Single(h => Akka.Cluster.Cluster.Get(System(h)).SelfAddress.ToString() == placed["d-0"]));
    }
}

/// <summary>
/// Losing a discriminator node mid-run (three ActorSystems in one process): its entities land on the surviving node
/// with no state, miss a round, are left out, restored from the last checkpoint and re-admitted; the run completes.
/// </summary>
public sealed class NodeLossSpecs : DiscriminatorNodeLossSpec
{
    protected override string SystemName => "akkagan-loss";

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_lost_discriminator_node_should_cost_its_members_one_round_and_never_the_run()
    {
        var (probe, coordinator, victim) = await StartWithMembersApart(TwoMembers);
        // Stop the node that hosts d-0 once the first checkpoints are taken; stop the run once d-0 took part again.
        Task? stopping = null;
        FaultReport? back = null;
        var (final, events, _) = EngineEquivalence.FollowUntilStopped(probe, coordinator, (message, _) =>
        {
            if (message is C.RoundCompleted { Report.Round: >= 25 } && stopping is null) stopping = victim.StopAsync();
            if (message is C.Faulted { Report: { Entity: "d-0", Event: "recovered" } recovered }) back = recovered;
            return message is C.RoundCompleted { Report: var report } && back is not null && report.Round > back.Round + 1
                   && report.Discriminators.Select(d => d.Member).SequenceEqual([0, 1]);
        }, TimeSpan.FromSeconds(90));
        await stopping!;
        Hosts.Remove(victim);
        victim.Dispose();

        var faults = events.OfType<C.Faulted>().Select(f => f.Report).ToList();
        var suspended = Assert.Single(faults, f => f.Event == "suspended" && f.Entity == "d-0");
        var recovered = Assert.Single(faults, f => f.Event == "recovered" && f.Entity == "d-0");
        // The node left gracefully: d-0 handed its state over as its shard moved, and resumed from it (nothing lost).
        // Even when a checkpoint was taken while it was away (it keeps the handed-over state, not an older one).
        var handedAt = global::System.Text.RegularExpressions.Regex.Match(recovered.Detail, @"restored from the state it handed over at round (\d+)");
        Assert.True(handedAt.Success, recovered.Detail);
        Assert.Contains("nothing it learned is lost", recovered.Detail);
        // It handed over its state of the last round it stepped in: the one before the round it missed, or that round
        // itself when it left between its critic step and the round's end. (A fault's round is the last completed one.)
        var missed = long.Parse(global::System.Text.RegularExpressions.Regex.Match(suspended.Detail, @"missed round (\d+)").Groups[1].Value, global::System.Globalization.CultureInfo.InvariantCulture);
        var handedRound = long.Parse(handedAt.Groups[1].Value, global::System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(handedRound, missed - 1, missed);
        Assert.True(recovered.Round >= suspended.Round);
        // Every checkpoint records each entity's own round: a checkpoint taken while d-0 was away keeps (and names) the
        // state it handed over; every other holds every entity at the checkpoint's round. (The checkpoint of the round
        // d-0 was readmitted in may be either: it came back during that round's steps.)
        foreach (var taken in events.OfType<C.CheckpointTaken>().Select(c => c.Checkpoint.Metadata))
        {
            if (taken.Round == recovered.Round) Assert.Contains(taken.RoundOf("d-0"), new[] { handedRound, taken.Round });
            else Assert.Equal(taken.Round >= missed && taken.Round < recovered.Round ? handedRound : taken.Round, taken.RoundOf("d-0"));
            Assert.Equal(taken.Round, taken.RoundOf("d-1"));
            Assert.Equal(taken.Round, taken.RoundOf("g-0"));
        }
        Assert.DoesNotContain(faults, f => f.Event == "rolled-back");
        // Until the recovery, rounds went on with the other member (the round after the suspension cannot wait for it:
        // the recovery is only asked for as that round starts); afterwards both take part again.
        var rounds = events.OfType<C.RoundCompleted>().Select(r => r.Report).ToList();
        Assert.Contains(rounds, r => r.Round > suspended.Round && r.Discriminators.Select(d => d.Member).SequenceEqual([1]));
        Assert.All(rounds.Where(r => r.Round > recovered.Round + 1), r => Assert.Equal([0, 1], r.Discriminators.Select(d => d.Member)));
        Assert.Equal(["g-0", "d-0", "d-1"], final!.Entities.Select(e => e.EntityId));
        // d-0 now lives on the surviving discriminator node.
        var survivor = Akka.Cluster.Cluster.Get(System(Hosts[1])).SelfAddress.ToString();
        Assert.Equal(survivor, events.OfType<C.Placed>().Last(p => p.Nodes.ContainsKey("d-0")).Nodes["d-0"]);
    }
}

/// <summary>
/// Losing the generator's node, with a second generator-role node standing by: the generator lands there with no
/// state, every entity goes back to the last checkpoint, and the rounds since are redone.
/// </summary>
public sealed class GeneratorLossSpecs : MultiNodeSpec
{
    protected override string SystemName => "akkagan-gloss";

    // A crashed node is downed after 3 s of stable membership (the abrupt case below); terminating a system does not
    // run CoordinatedShutdown, so it leaves nothing behind, like a killed process.
    protected override string Hocon => """
        akka.cluster.split-brain-resolver.stable-after = 3s
        akka.coordinated-shutdown.run-by-actor-system-terminate = off
        """;

    public override async ValueTask InitializeAsync()
    {
        var a = await Node([Roles.Coordinator, Roles.Discriminator], null,
            b => b.AddDiscriminators(RunData.Create).AddGeneratorProxy().AddCoordinator(TimeSpan.FromSeconds(3)));
        for (var i = 0; i < 2; i++) await Node([Roles.Generator], AddressOf(a), b => b.AddDiscriminatorProxy().AddGenerator());
    }

    /// <summary>
    /// Takes the generator's node away with <paramref name="loseNode"/> after round 50 and stops the run once the
    /// generator's fault (<paramref name="fault"/>) is handled and the run has gone past every round played before it.
    /// </summary>
    /// <param name="betweenRounds">Pause the run first (a checkpoint asked for while pausing says where it parked), lose
    /// the node while no round is in flight, then resume; otherwise the node goes in the middle of whatever round runs.</param>
    private async Task<(Checkpoint Final, List<object> Events)> TrainAndLoseTheGeneratorsNode(TrainingSettings settings, string fault, Func<IHost, Task> loseNode,
        bool betweenRounds = false)
    {
        var systemA = System(Hosts[0]);
        var kit = new Akka.TestKit.Xunit.TestKit(systemA);
        kit.AwaitAssert(() => Assert.Equal(3, Akka.Cluster.Cluster.Get(systemA).State.Members.Count(m => m.Status == MemberStatus.Up)), TimeSpan.FromSeconds(30));
        var probe = kit.CreateTestProbe();
        var registry = Hosts[0].Services.GetRequiredService<ActorRegistry>();
        await ClusterReadiness.WaitAsync(systemA, registry, 2, 1, _ => { }, TimeSpan.FromSeconds(30), CancellationToken.None);
        var coordinator = registry.Get<CoordinatorSingleton>();
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));
        IHost? victim = null;
        Task? losing = null;
        var parking = false;
        long? lastBefore = null;
        var (final, events, _) = EngineEquivalence.FollowUntilStopped(probe, coordinator, (message, events) =>
        {
            if (message is C.Placed { Nodes: var placed } && placed.TryGetValue("g-0", out var node) && victim is null)
                victim = Hosts.Skip(1).Single(h => Akka.Cluster.Cluster.Get(System(h)).SelfAddress.ToString() == node);
            if (message is C.RoundCompleted { Report.Round: >= 50 } && losing is null && !parking)
            {
                if (!betweenRounds) losing = loseNode(victim!);
                else
                {
                    parking = true;
                    coordinator.Tell(new C.PauseTraining());
                    coordinator.Tell(new C.CheckpointNow());
                }
            }
            if (message is C.CheckpointTaken && parking && losing is null)
            {
                // Parked between rounds: the node leaves (its entity hands its state over), then the run goes on.
                losing = loseNode(victim!);
                losing.GetAwaiter().GetResult();
                coordinator.Tell(new C.ResumeTraining());
            }
            if (message is C.Faulted { Report.Entity: "g-0" } faulted && faulted.Report.Event == fault)
                lastBefore = events.OfType<C.RoundCompleted>().Max(r => r.Report.Round);
            return message is C.RoundCompleted { Report.Round: var round } && round > lastBefore;
        }, TimeSpan.FromSeconds(90));
        await losing!;
        Hosts.Remove(victim!);
        await victim!.StopAsync();
        victim.Dispose();
        return (final!, events);
    }

    private static TrainingSettings Settings => new()
    {
        Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = EngineEquivalence.Endless, LrDecay = LrDecay.None, EvalEvery = 1000,
        CheckpointEvery = 20, EvalSamples = 200, Unroll = 1, Discriminators = 2,
    };

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_crashed_generator_node_should_roll_back_to_the_last_checkpoint_and_replay_to_the_reference_engines_parameters()
    {
        var settings = Settings;
        var (final, events) = await TrainAndLoseTheGeneratorsNode(settings, "rolled-back", victim => System(victim).Terminate());
        var rollback = Assert.Single(events.OfType<C.Faulted>().Select(f => f.Report), f => f.Event == "rolled-back");
        var redone = int.Parse(global::System.Text.RegularExpressions.Regex.Match(rollback.Detail, @"(\d+) round\(s\) are redone").Groups[1].Value, global::System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(redone, 0, settings.CheckpointEvery);
        // After the roll-back the rounds continue from the checkpoint's round: some round numbers are played twice.
        var rounds = events.OfType<C.RoundCompleted>().Select(r => r.Report.Round).ToList();
        Assert.Equal(rounds.Count, rounds.Distinct().Count() + redone);
        // Replayed from the checkpoint, the run is where the reference engine is after as many rounds.
        EngineEquivalence.AssertSameAsReference(settings with { Rounds = (int)final.Metadata.Round }, final);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_generator_node_that_leaves_between_rounds_should_hand_its_state_over_and_redo_nothing()
    {
        // Between rounds: a node that leaves in the middle of a round, after the discriminators stepped on its critic
        // batches, costs a roll-back instead (the handed-over state is a round behind theirs).
        var (final, events) = await TrainAndLoseTheGeneratorsNode(Settings, "recovered", victim => victim.StopAsync(), betweenRounds: true);
        var faults = events.OfType<C.Faulted>().Select(f => f.Report).ToList();
        Assert.DoesNotContain(faults, f => f.Event == "rolled-back");
        var recovered = Assert.Single(faults, f => f.Event == "recovered" && f.Entity == "g-0");
        Assert.Contains("restored from the state it handed over at round", recovered.Detail);
        var rounds = events.OfType<C.RoundCompleted>().Select(r => r.Report.Round).ToList();
        Assert.Equal(rounds.Count, rounds.Distinct().Count());
        EngineEquivalence.AssertSameAsReference(Settings with { Rounds = (int)final.Metadata.Round }, final);
    }
}

/// <summary>
/// <c>recovery = exact</c>: a discriminator node killed mid-run (its system terminated, nothing handed over) makes the
/// whole run roll back to the last checkpoint and replay once the member's shard lands on the surviving node, so the
/// result equals an uninterrupted run's byte for byte.
/// </summary>
public sealed class ExactRecoverySpecs : DiscriminatorNodeLossSpec
{
    protected override string SystemName => "akkagan-exact";

    // A crashed node is downed after 3 s of stable membership; terminating a system does not run CoordinatedShutdown,
    // so it hands nothing over, like a killed process.
    protected override string Hocon => """
        akka.cluster.split-brain-resolver.stable-after = 3s
        akka.coordinated-shutdown.run-by-actor-system-terminate = off
        """;

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_killed_discriminator_node_should_roll_the_run_back_and_replay_it_to_the_uninterrupted_runs_bytes()
    {
        var settings = TwoMembers with { Recovery = RecoveryMode.Exact };
        var (probe, coordinator, victim) = await StartWithMembersApart(settings);
        Task? killing = null;
        long? lastBefore = null;
        var (final, events, _) = EngineEquivalence.FollowUntilStopped(probe, coordinator, (message, events) =>
        {
            if (message is C.RoundCompleted { Report.Round: >= 25 } && killing is null) killing = System(victim).Terminate();
            if (message is C.Faulted { Report.Event: "rolled-back" }) lastBefore = events.OfType<C.RoundCompleted>().Max(r => r.Report.Round);
            // Past every round played before the roll-back, with both members again.
            return message is C.RoundCompleted { Report: var report } && report.Round > lastBefore
                   && report.Discriminators.Select(d => d.Member).SequenceEqual([0, 1]);
        }, TimeSpan.FromSeconds(120));
        await killing!;
        Hosts.Remove(victim);
        victim.Dispose();

        var faults = events.OfType<C.Faulted>().Select(f => f.Report).ToList();
        var rollback = Assert.Single(faults, f => f.Event == "rolled-back");
        Assert.Contains("d-0 missed round", rollback.Detail);
        // The failure detector's verdict is reported as it comes, with what the run waits for.
        var unreachable = faults.FindIndex(f => f is { Entity: "d-0", Event: "unreachable" });
        Assert.True(unreachable >= 0, string.Join("\n", faults));
        Assert.Contains("then the run goes back to the last checkpoint and replays", faults[unreachable].Detail);
        Assert.DoesNotContain(faults, f => f.Event == "suspended");
        // No round was played without d-0 and kept: every round reported has both members.
        Assert.All(events.OfType<C.RoundCompleted>(), r => Assert.Equal([0, 1], r.Report.Discriminators.Select(d => d.Member)));
        var survivor = Akka.Cluster.Cluster.Get(System(Hosts[1])).SelfAddress.ToString();
        Assert.Equal(survivor, events.OfType<C.Placed>().Last(p => p.Nodes.ContainsKey("d-0")).Nodes["d-0"]);
        // Replayed from the checkpoint, the run is byte for byte where the uninterrupted (reference) run is after as many rounds.
        EngineEquivalence.AssertSameAsReference(settings with { Rounds = (int)final!.Metadata.Round }, final);
    }
}
