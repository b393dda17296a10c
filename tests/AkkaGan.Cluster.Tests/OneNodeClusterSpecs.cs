using Akka.Actor;
using Akka.Hosting;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// The production wiring (the same <c>Add*</c> calls a node makes) on a real one-node Akka cluster with all three
/// roles: sharded generator and discriminators, the coordinator as a singleton. Akka.Hosting.TestKit starts the node
/// (an IHost) before each test and stops it after.
/// </summary>
public sealed partial class OneNodeClusterSpecs() : Akka.Hosting.TestKit.TestKit("akkagan-spec")
{
    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider)
        => builder.AddEmbeddedCluster(AkkaGanConfig.Default(), RunData.Create, TimeSpan.FromSeconds(30));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    [Trait("Category", "Slow")]
    public void A_one_node_cluster_should_train_to_the_reference_engines_parameters(bool heterogeneous)
    {
        var settings = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = 4, EvalEvery = 2, CheckpointEvery = 4, EvalSamples = 200,
            Unroll = 2, Discriminators = 2, Aggregate = AggregationKind.Softmax,
        };
        if (heterogeneous)
        {
            // Three critics with their own loss, learning rate and regularizer, evolving between them; the generator
            // keeps a moving average of its weights, which the evaluations sample from; the critics judge packs of two and
            // normalize their weights spectrally.
            settings = settings with
            {
                Discriminators = 3, EvolveEvery = 2, GeneratorEma = 0.9, Pack = 2, SpectralNorm = true,
                Members = [new() { Loss = LossKind.Hinge, LrD = 5e-4 }, new() { Loss = LossKind.LeastSquares, R1Gamma = 1 }],
            };
        }
        var probe = CreateTestProbe();
        ActorRegistry.Get<CoordinatorSingleton>().Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));

        var (final, _) = EngineEquivalence.FollowToCompletion(probe, settings, TimeSpan.FromSeconds(90));
        Assert.Equal(heterogeneous, final!.Entity(GeneratorCore.EntityId).Tensors.Any(t => t.Name.StartsWith(GeneratorCore.AveragePrefix, StringComparison.Ordinal)));
        Assert.Equal(heterogeneous, final.Entity(DiscriminatorCore.EntityIdOf(0)).Tensors.Any(t => t.Name == "model/u0"));
        EngineEquivalence.AssertSameAsReference(settings, final);
    }

    [Theory]
    [InlineData(WireFormat.Float16)]
    [InlineData(WireFormat.Bfloat16)]
    [Trait("Category", "Slow")]
    public void A_narrow_wire_should_round_alike_in_both_engines_and_change_the_result(WireFormat wire)
    {
        var lossless = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = 4, EvalEvery = 2, CheckpointEvery = 4, EvalSamples = 200,
            Unroll = 2, Discriminators = 2, EvolveEvery = 2,
        };
        var settings = lossless with { WireDType = wire };
        var probe = CreateTestProbe();
        ActorRegistry.Get<CoordinatorSingleton>().Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));

        var (final, _) = EngineEquivalence.FollowToCompletion(probe, settings, TimeSpan.FromSeconds(90));
        EngineEquivalence.AssertSameAsReference(settings, final);
        // The rounding is real: the float32 wire ends elsewhere.
        using var reference = new ReferenceTrainer(lossless, RunData.Create(lossless), TorchSharp.torch.CPU);
        reference.Run(checkpoints: null, cancellation: TestContext.Current.CancellationToken);
        var generator = reference.CreateCheckpoint().Entities.Single(e => e.EntityId == "g-0");
        Assert.False(generator.Tensors.Zip(final!.Entities.Single(e => e.EntityId == "g-0").Tensors)
            .All(t => t.Item1.Payload.Data.AsSpan().SequenceEqual(t.Item2.Payload.Data)), $"a {wire} wire trained the same generator as float32");
    }

    [Fact]
    public void A_second_start_should_be_refused_while_a_training_runs()
    {
        var settings = new TrainingSettings { Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = 100000, EvalEvery = 100000, CheckpointEvery = 100000, Unroll = 0 };
        var coordinator = ActorRegistry.Get<CoordinatorSingleton>();
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, first.Ref));
        first.FishForMessage(m => m is C.RoundCompleted, TimeSpan.FromSeconds(60), cancellationToken: TestContext.Current.CancellationToken);
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, second.Ref));
        var refused = second.ExpectMsg<C.TrainingFinished>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        Assert.False(refused.Completed);
        Assert.Contains("a training is already running", refused.Reason);
        Assert.Contains("--standby", refused.Reason);
        coordinator.Tell(new C.StopTraining());
        Assert.False(first.FishForMessage<C.TrainingFinished>(_ => true, TimeSpan.FromSeconds(60), cancellationToken: TestContext.Current.CancellationToken).Completed);
    }

    [Fact]
    public void A_start_after_the_training_ended_should_be_answered_with_a_refusal()
    {
        var settings = new TrainingSettings { Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = 2, EvalEvery = 2, CheckpointEvery = 2, EvalSamples = 200, Unroll = 0 };
        var coordinator = ActorRegistry.Get<CoordinatorSingleton>();
        var first = CreateTestProbe();
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, first.Ref));
        EngineEquivalence.FollowToCompletion(first, settings, TimeSpan.FromSeconds(60));
        var second = CreateTestProbe();
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, second.Ref));
        var refused = second.ExpectMsg<C.TrainingFinished>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        Assert.False(refused.Completed);
        Assert.Contains("the training completed at round 2", refused.Reason);
        Assert.Contains("trains one run", refused.Reason);
    }

    private sealed class Remedies : ITrainingObserver
    {
        public List<(long Round, string Remedy)> Applied { get; } = [];
        public void OnHealth(AkkaGan.Core.Health.HealthReport report)
        {
            if (report.Action is { } action) Applied.Add((report.Round, action.RemedyName));
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Auto_remedies_should_be_taken_at_the_same_rounds_and_give_the_reference_engines_parameters()
    {
        // Thresholds no tiny run can meet, so mode collapse is diagnosed at every check after the warm-up and the
        // whole remedy list runs: more unroll, a new member, the strongest member replaced by a fresh one.
        var settings = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = 40, EvalEvery = 10, CheckpointEvery = 40, EvalSamples = 200, Unroll = 0,
            Health = new AkkaGan.Core.Health.HealthSettings
            {
                AutoRemedy = true, Every = 10, Window = 10, Warmup = 10, Cooldown = 10, MaxPerRemedy = 1, CollapseModesFraction = 1, CollapsePairwiseRatio = 10,
            },
        };
        var probe = CreateTestProbe();
        ActorRegistry.Get<CoordinatorSingleton>().Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));
        var (final, events) = EngineEquivalence.FollowToCompletion(probe, settings, TimeSpan.FromSeconds(90));

        var cluster = events.OfType<C.HealthDiagnosed>().Where(h => h.Report.Action is not null).Select(h => (h.Report.Round, h.Report.Action!.RemedyName)).ToList();
        Assert.Equal([(10L, "more-unroll"), (20L, "add-discriminator"), (30L, "reinit-strongest")], cluster);
        var reference = new Remedies();
        using (var trainer = new ReferenceTrainer(settings, RunData.Create(settings), TorchSharp.torch.CPU, reference)) trainer.Run(checkpoints: null, cancellation: TestContext.Current.CancellationToken);
        Assert.Equal(reference.Applied, cluster);
        Assert.Equal(3, final!.Entities.Count);   // g-0 and two members: d-0 or d-1 replaced by d-2
        Assert.Contains(final.Entities, e => e.EntityId == "d-2");
        EngineEquivalence.AssertSameAsReference(settings, final);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Live_changes_should_reach_every_entity_as_in_the_reference_engine()
    {
        var settings = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = 3, EvalEvery = 3, CheckpointEvery = 3, EvalSamples = 200,
            Unroll = 2, Discriminators = 2, Aggregate = AggregationKind.Softmax,
        };
        RunChange[] changes =
        [
            new SetSetting("lr-d", "3e-4", Member: 1),
            new SetSetting("unroll", "1"),
            new SetSetting("lr-g", "1e-3"),
            new SetSetting("n-critic", "2"),
            new AddDiscriminator(new MemberOverrides { Loss = LossKind.Hinge, InstanceNoise = 0.1 }),
            new RemoveDiscriminator(0),
            new SetSetting("n-critic", "0"), // refused: nothing changes
        ];
        var probe = CreateTestProbe();
        var requester = CreateTestProbe();
        var coordinator = ActorRegistry.Get<CoordinatorSingleton>();
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));
        // Queued while the entities are configured: applied in order before round 1.
        foreach (var change in changes) coordinator.Tell(new C.ChangeRun(change), requester.Ref);
        var answers = changes.Select(_ => requester.ExpectMsg<object>(TimeSpan.FromSeconds(60))).ToArray();
        Assert.Equal(["lr-d = 3e-4 (d-1)", "unroll = 1", "lr-g = 1e-3", "n-critic = 2", "added d-2 (loss hinge, lr-d 0.001)", "removed d-0"],
            answers.OfType<C.RunChanged>().Select(a => a.Report.Description));
        Assert.Contains("n-critic must be a positive number", Assert.IsType<C.ChangeRefused>(answers[^1]).Reason);

        var (final, events) = EngineEquivalence.FollowToCompletion(probe, settings, TimeSpan.FromSeconds(90));
        Assert.Equal(6, events.OfType<C.RunChanged>().Count());
        Assert.All(events.OfType<C.RoundCompleted>(), r => Assert.Equal([1, 2], r.Report.Discriminators.Select(d => d.Member)));
        Assert.Equal(["g-0", "d-1", "d-2"], final!.Entities.Select(e => e.EntityId));
        EngineEquivalence.AssertSameAsReference(settings, final, trainer =>
        {
            foreach (var change in changes.SkipLast(1)) trainer.Apply(change);
        });
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_discriminator_with_nan_weights_should_make_the_coordinator_roll_back_and_go_on()
    {
        var settings = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = EngineEquivalence.Endless, LrDecay = LrDecay.None, EvalEvery = 1000,
            CheckpointEvery = 10, EvalSamples = 200, Unroll = 1,
        };
        var probe = CreateTestProbe();
        var injector = CreateTestProbe();
        var coordinator = ActorRegistry.Get<CoordinatorSingleton>();
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));

        var injected = false;
        long? lowered = null;
        // Stopped once the guard has rolled back, lowered the learning rates and the run has gone on past that.
        var (_, events, _) = EngineEquivalence.FollowUntilStopped(probe, coordinator, (message, events) =>
        {
            // After the checkpoint of round 10, give d-0 that state with NaN weights (a wire-level injection).
            if (message is C.CheckpointTaken { Checkpoint: var checkpoint } && checkpoint.Metadata.Round == 10 && !injected)
            {
                injected = true;
                var poisoned = EngineEquivalence.WithNaN(checkpoint.Entity("d-0"));
                ActorRegistry.Get<DiscriminatorRegion>().Tell(new Protocol.EntityProtocol.RestoreSnapshot("d-0", 1, poisoned, injector.Ref));
            }
            if (message is C.RunChanged) lowered = events.OfType<C.RoundCompleted>().LastOrDefault()?.Report.Round ?? 0;
            return message is C.RoundCompleted { Report.Round: var round } && round > lowered + 1;
        }, TimeSpan.FromSeconds(60));
        var faults = events.OfType<C.Faulted>().Select(f => f.Report).ToList();
        Assert.Contains(faults, f => f.Event == "diverged" && f.Detail.Contains("is NaN", StringComparison.Ordinal));
        var rollback = Assert.Single(faults, f => f.Event == "rolled-back");
        Assert.Contains("every entity goes back to round 10", rollback.Detail);
        Assert.Contains(events.OfType<C.RunChanged>(), c => c.Report.Description == "learning rates x0.5 (divergence guard)");
        var final = events.OfType<C.CheckpointTaken>().Last().Checkpoint;
        Assert.Equal(settings.LrD * 0.5, final.Entity("d-0").LearningRate);
        Assert.All(final.Entities.SelectMany(e => e.Tensors), t => Assert.All(
            Enumerable.Range(0, t.Payload.Data.Length / 4).Select(i => BitConverter.ToSingle(t.Payload.Data, 4 * i)), v => Assert.True(float.IsFinite(v))));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_roll_back_past_a_member_added_since_should_leave_that_member_as_it_is_and_go_on()
    {
        var settings = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = EngineEquivalence.Endless, LrDecay = LrDecay.None, EvalEvery = 1000,
            CheckpointEvery = 10, EvalSamples = 200, Unroll = 0,
        };
        var probe = CreateTestProbe();
        var requester = CreateTestProbe();
        var injector = CreateTestProbe();
        var coordinator = ActorRegistry.Get<CoordinatorSingleton>();
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));

        var injected = false;
        long? lowered = null;
        var (_, events, _) = EngineEquivalence.FollowUntilStopped(probe, coordinator, (message, events) =>
        {
            // After the checkpoint of round 10: a member joins (so that checkpoint lacks it), then d-0 diverges.
            if (message is C.CheckpointTaken { Checkpoint: var checkpoint } && checkpoint.Metadata.Round == 10 && !injected)
            {
                injected = true;
                coordinator.Tell(new C.ChangeRun(new AddDiscriminator(new MemberOverrides())), requester.Ref);
                Assert.IsType<C.RunChanged>(requester.ExpectMsg<object>(TimeSpan.FromSeconds(30)));
                ActorRegistry.Get<DiscriminatorRegion>().Tell(new Protocol.EntityProtocol.RestoreSnapshot("d-0", 1, EngineEquivalence.WithNaN(checkpoint.Entity("d-0")), injector.Ref));
            }
            if (message is C.RunChanged { Report.Description: var description } && description.Contains("divergence guard", StringComparison.Ordinal))
                lowered = events.OfType<C.RoundCompleted>().LastOrDefault()?.Report.Round ?? 0;
            return message is C.RoundCompleted { Report.Round: var round } && round > lowered + 1;
        }, TimeSpan.FromSeconds(60));
        var rollback = Assert.Single(events.OfType<C.Faulted>().Select(f => f.Report), f => f.Event == "rolled-back");
        Assert.Contains("every entity goes back to round 10", rollback.Detail);
        // Both members train on after the roll-back; the joined one was left as it was.
        Assert.Equal([0, 1], events.OfType<C.RoundCompleted>().Last().Report.Discriminators.Select(d => d.Member));
        var final = events.OfType<C.CheckpointTaken>().Last().Checkpoint;
        Assert.Equal(["g-0", "d-0", "d-1"], final.Entities.Select(e => e.EntityId));
        Assert.All(final.Entities.SelectMany(e => e.Tensors), t => Assert.All(
            Enumerable.Range(0, t.Payload.Data.Length / 4).Select(i => BitConverter.ToSingle(t.Payload.Data, 4 * i)), v => Assert.True(float.IsFinite(v))));
    }
}
