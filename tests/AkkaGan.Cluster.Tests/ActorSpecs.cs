using Akka.Actor;
using Akka.Configuration;
using AkkaGan.Cluster.Discriminator;
using AkkaGan.Cluster.Generator;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using E = AkkaGan.Cluster.Protocol.EntityProtocol;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;

namespace AkkaGan.Cluster.Tests;

public sealed class DiscriminatorActorSpecs : Akka.TestKit.Xunit.TestKit
{
    internal static readonly Config Config = ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(AkkaGanConfig.Default());

    internal static readonly TrainingSettings Tiny = new() { Batch = 16, HiddenUnits = 8, LatentDim = 4, Unroll = 1, Rounds = 50, Discriminators = 2 };

    private static readonly DiscriminatorId D0 = new(0);

    public DiscriminatorActorSpecs() : base(Config) { }

    private IActorRef Configured(IActorRef? region = null)
    {
        var actor = Sys.ActorOf(DiscriminatorActor.Props(D0, region ?? TestActor, RunData.Create));
        actor.Tell(new E.Configure(D0.EntityId, 1, SettingsJson.Serialize(Tiny), TestActor));
        ExpectMsg<E.Configured>();
        return actor;
    }

    private static TensorPayload Fake(long round, int rows = 16, int columns = 2)
    {
        using var generator = Seeds.Generator(9, round, SeedRole.Generator, 0, SeedPurpose.FakeForCritic);
        using var fake = randn([rows, columns], generator: generator);
        return TensorCodec.ToPayload(fake);
    }

    [Fact]
    public void Discriminator_should_reject_commands_before_it_is_configured()
    {
        var actor = Sys.ActorOf(DiscriminatorActor.Props(D0, TestActor, RunData.Create));
        actor.Tell(new D.TrainStep(D0, 1, 1, 0, Fake(1), TestActor));
        Assert.Contains("not configured", ExpectMsg<E.Rejected>(cancellationToken: TestContext.Current.CancellationToken).Reason);
    }

    [Fact]
    public void Discriminator_should_train_on_a_fake_batch_exactly_as_its_core_does()
    {
        var actor = Configured();
        actor.Tell(new D.TrainStep(D0, 1, 1, 0, Fake(1), TestActor));
        var done = ExpectMsg<D.TrainStepDone>(cancellationToken: TestContext.Current.CancellationToken).Result;

        using var core = new DiscriminatorCore(Tiny, 0, RunData.Create(Tiny), CPU);
        using var fake = TensorCodec.ToTensor(Fake(1));
        var expected = core.TrainStep(1, 0, fake);
        Assert.Equal((expected.Loss, expected.RealScore, expected.FakeScore), (done.Loss, done.RealScore, done.FakeScore));
        Assert.Equal((1L, 0), (done.Round, done.CriticStep));
    }

    [Fact]
    public void Discriminator_should_return_the_input_gradient_of_its_lookahead()
    {
        var actor = Configured();
        actor.Tell(new D.ComputeFeedback(D0, 1, 1, Fake(1), TestActor));
        var answer = ExpectMsg<D.FeedbackComputed>(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([16L, 2], answer.Gradient.Shape);

        using var core = new DiscriminatorCore(Tiny, 0, RunData.Create(Tiny), CPU);
        using var fake = TensorCodec.ToTensor(Fake(1));
        var expected = core.Feedback(1, fake);
        Assert.Equal(expected.Loss, answer.Loss);
        Assert.Equal(TensorCodec.ToPayload(expected.Gradient).Data, answer.Gradient.Data);
    }

    [Fact]
    public void Discriminator_should_reject_a_stale_round_and_keep_working()
    {
        var actor = Configured();
        actor.Tell(new D.TrainStep(D0, 1, 5, 0, Fake(5), TestActor));
        ExpectMsg<D.TrainStepDone>(cancellationToken: TestContext.Current.CancellationToken);
        actor.Tell(new D.TrainStep(D0, 1, 3, 0, Fake(3), TestActor));
        var rejected = ExpectMsg<E.Rejected>(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains("stale round 3", rejected.Reason);
        actor.Tell(new D.TrainStep(D0, 1, 6, 0, Fake(6), TestActor));
        Assert.Equal(6, ExpectMsg<D.TrainStepDone>(cancellationToken: TestContext.Current.CancellationToken).Result.Round);
    }

    [Fact]
    public void Discriminator_should_reject_a_tensor_of_the_wrong_shape_without_crashing()
    {
        var actor = Configured();
        Watch(actor);
        actor.Tell(new D.TrainStep(D0, 1, 1, 0, Fake(1, columns: 3), TestActor));
        var rejected = ExpectMsg<E.Rejected>(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains("[16, 3]", rejected.Reason);
        Assert.Contains("[B, 2]", rejected.Reason);
        actor.Tell(new D.ComputeFeedback(D0, 1, 1, new TensorPayload(WireDType.Float32, [16, 2], new byte[12]), TestActor));
        Assert.Contains("byte count", ExpectMsg<E.Rejected>(cancellationToken: TestContext.Current.CancellationToken).Reason);
        actor.Tell(new D.TrainStep(D0, 1, 1, 0, Fake(1), TestActor));
        // The answer to a good step, not a Terminated: the rejections left the actor (and its state) alive.
        ExpectMsg<D.TrainStepDone>(cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public void Discriminator_should_send_its_state_to_another_member_and_adopt_one()
    {
        var region = CreateTestProbe();
        var actor = Configured(region.Ref);
        actor.Tell(new D.TransferWeights(D0, 1, new DiscriminatorId(1), 5e-4, 4, TestActor));
        var adopt = region.ExpectMsg<D.AdoptWeights>(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(new DiscriminatorId(1), adopt.Discriminator);
        Assert.Equal(5e-4, adopt.LearningRate);
        Assert.Contains(adopt.Snapshot.Tensors, t => t.Name.StartsWith("model/", StringComparison.Ordinal));

        actor.Tell(new D.AdoptWeights(D0, 1, adopt.Snapshot, 7e-4, 4, TestActor));
        Assert.Equal(7e-4, ExpectMsg<D.WeightsAdopted>(cancellationToken: TestContext.Current.CancellationToken).LearningRate);
        actor.Tell(new E.GetSnapshot(D0.EntityId, 1, 4, TestActor));
        Assert.Equal(7e-4, ExpectMsg<E.SnapshotTaken>(cancellationToken: TestContext.Current.CancellationToken).Snapshot.LearningRate);
    }
}

public sealed class GeneratorActorSpecs : Akka.TestKit.Xunit.TestKit
{
    private static readonly TrainingSettings Tiny = DiscriminatorActorSpecs.Tiny;
    private static readonly GeneratorId G0 = GeneratorId.Default;

    public GeneratorActorSpecs() : base(DiscriminatorActorSpecs.Config) { }

    private (IActorRef Generator, Akka.TestKit.TestProbe Region) Configured()
    {
        var region = CreateTestProbe();
        var generator = Sys.ActorOf(GeneratorActor.Props(G0, region.Ref));
        generator.Tell(new E.Configure(G0.EntityId, 1, SettingsJson.Serialize(Tiny), TestActor));
        ExpectMsg<E.Configured>();
        return (generator, region);
    }

    private static TensorPayload Gradient(float value) => TensorCodec.ToPayload(full(16, 2, value));

    /// <summary>The generator step alone: a round with no critic step.</summary>
    private static G.RunRound Step(long round, int[] members, TimeSpan timeout, IActorRef replyTo) => new(G0, round, round, 0, [], members, timeout, replyTo);

    [Fact]
    public void Generator_should_send_each_member_its_own_fake_batch_directly()
    {
        var (generator, region) = Configured();
        generator.Tell(new G.RunRound(G0, 1, 1, 1, [0, 2], [0], TimeSpan.FromSeconds(10), TestActor));
        var first = region.ExpectMsg<D.TrainStep>(cancellationToken: TestContext.Current.CancellationToken);
        var second = region.ExpectMsg<D.TrainStep>(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([0, 2], new[] { first.Discriminator.Member, second.Discriminator.Member });
        Assert.Equal([16L, 2], first.Fake.Shape);
        Assert.Equal(TestActor, first.ReplyTo);
        Assert.NotEqual(first.Fake.Data, second.Fake.Data);
        using var core = new GeneratorCore(Tiny, [2], CPU);
        using var expected = core.GenerateFakes(1, 0, 2, 16);
        Assert.Equal(TensorCodec.ToPayload(expected).Data, second.Fake.Data);
    }

    [Fact]
    public void Generator_should_apply_the_aggregated_gradient_of_all_answers()
    {
        var (generator, region) = Configured();
        generator.Tell(Step(1, [0, 1], TimeSpan.FromSeconds(10), TestActor));
        var asks = new[] { region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken), region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken) };
        Assert.Equal(generator, asks[0].ReplyTo);
        generator.Tell(new D.FeedbackComputed(new DiscriminatorId(1), 1, 1, 0.5, Gradient(3f)));
        generator.Tell(new D.FeedbackComputed(new DiscriminatorId(0), 1, 1, 0.25, Gradient(1f)));
        var stepped = ExpectMsg<G.GeneratorStepped>(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([0, 1], stepped.Answered);
        Assert.Equal(0.375, stepped.Result.Loss);

        // The same step on a bare core with the mean gradient (1 + 3) / 2 = 2 gives identical weights.
        using var core = new GeneratorCore(Tiny, [2], CPU);
        using (var _ = core.BeginStep(1)) { }
        using var mean = full(16, 2, 2f);
        core.CompleteStep(1, mean, 0.375);
        generator.Tell(new E.GetSnapshot(G0.EntityId, 1, 1, TestActor));
        var snapshot = ExpectMsg<E.SnapshotTaken>(cancellationToken: TestContext.Current.CancellationToken).Snapshot;
        Assert.Equal(core.Snapshot().Tensors.Select(t => t.Payload.Data), snapshot.Tensors.Select(t => t.Payload.Data));
    }

    [Fact]
    public void A_round_should_send_every_critic_batch_then_the_feedback_request_in_the_reference_order()
    {
        var (generator, region) = Configured();
        generator.Tell(new G.RunRound(G0, 1, 1, 2, [0, 1], [1], TimeSpan.FromSeconds(10), TestActor));
        // Critic step 0 for d-0 and d-1, critic step 1 for both, then x_fake to the selected member: each
        // discriminator receives its critic batches before the feedback request, so it answers with stepped weights.
        var sent = Enumerable.Range(0, 5).Select(_ => region.ExpectMsg<object>()).ToArray();
        var steps = sent.Take(4).Cast<D.TrainStep>().ToArray();
        Assert.Equal([(0, 0), (1, 0), (0, 1), (1, 1)], steps.Select(s => (s.Discriminator.Member, s.CriticStep)));
        Assert.All(steps, s => Assert.Equal(TestActor, s.ReplyTo)); // critic reports go to the coordinator
        var ask = Assert.IsType<D.ComputeFeedback>(sent[4]);
        Assert.Equal((1, generator), (ask.Discriminator.Member, ask.ReplyTo));

        using var core = new GeneratorCore(Tiny, [2], CPU);
        using var expected = core.GenerateFakes(1, 1, 0, 16);
        Assert.Equal(TensorCodec.ToPayload(expected).Data, steps[2].Fake.Data);
        generator.Tell(new D.FeedbackComputed(new DiscriminatorId(1), 1, 1, 0.5, Gradient(3f)));
        Assert.Equal([1], ExpectMsg<G.GeneratorStepped>(cancellationToken: TestContext.Current.CancellationToken).Answered);
    }

    [Fact]
    public void Generator_should_time_out_a_silent_discriminator_and_carry_on_with_the_rest()
    {
        var (generator, region) = Configured();
        generator.Tell(Step(1, [0, 1], TimeSpan.FromMilliseconds(300), TestActor));
        region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken);
        region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken);
        generator.Tell(new D.FeedbackComputed(new DiscriminatorId(0), 1, 1, 0.25, Gradient(1f)));
        var stepped = ExpectMsg<G.GeneratorStepped>(TimeSpan.FromSeconds(5), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([0], stepped.Answered);
        // A late answer is ignored, and the next round works.
        generator.Tell(new D.FeedbackComputed(new DiscriminatorId(1), 1, 1, 0.5, Gradient(3f)));
        generator.Tell(Step(2, [1], TimeSpan.FromSeconds(10), TestActor));
        region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken);
        generator.Tell(new D.FeedbackComputed(new DiscriminatorId(1), 2, 2, 0.5, Gradient(3f)));
        Assert.Equal(2, ExpectMsg<G.GeneratorStepped>(cancellationToken: TestContext.Current.CancellationToken).Result.Round);
    }

    [Fact]
    public void Generator_should_report_a_step_nobody_answered_and_leave_out_rejecting_members()
    {
        var (generator, region) = Configured();
        generator.Tell(Step(1, [0, 1], TimeSpan.FromMilliseconds(200), TestActor));
        region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken);
        region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken);
        generator.Tell(new E.Rejected("d-1", 1, 1, nameof(D.ComputeFeedback), "stale"));
        Assert.Contains("no discriminator answered", ExpectMsg<E.Rejected>(TimeSpan.FromSeconds(5), cancellationToken: TestContext.Current.CancellationToken).Reason);

        generator.Tell(Step(2, [0, 1], TimeSpan.FromSeconds(10), TestActor));
        region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken);
        region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken);
        generator.Tell(new E.Rejected("d-0", 2, 2, nameof(D.ComputeFeedback), "wrong shape"));
        generator.Tell(new D.FeedbackComputed(new DiscriminatorId(1), 2, 2, 0.5, Gradient(3f)));
        Assert.Equal([1], ExpectMsg<G.GeneratorStepped>(cancellationToken: TestContext.Current.CancellationToken).Answered);
    }

    [Fact]
    public void A_round_sent_ahead_should_wait_for_the_step_before_it_and_be_declined_after_a_step_that_missed_a_member()
    {
        var (generator, region) = Configured();
        generator.Tell(Step(1, [0, 1], TimeSpan.FromSeconds(10), TestActor));
        region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken);
        region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken);
        // Round 2 comes while round 1's step waits for its feedback: round 1 is not abandoned, round 2 starts after it.
        generator.Tell(Step(2, [0, 1], TimeSpan.FromMilliseconds(300), TestActor) with { Follows = 1 });
        generator.Tell(new D.FeedbackComputed(new DiscriminatorId(0), 1, 1, 0.25, Gradient(1f)));
        generator.Tell(new D.FeedbackComputed(new DiscriminatorId(1), 1, 1, 0.5, Gradient(3f)));
        var first = ExpectMsg<G.GeneratorStepped>(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(1, first.Result.Round);
        Assert.Equal([0, 1], first.Answered);
        var asks = new[] { region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken), region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken) };
        Assert.All(asks, a => Assert.Equal(2, a.Round));

        // d-1 misses round 2, so round 3, sent ahead of round 2's result, is declined: nothing goes to any member.
        generator.Tell(Step(3, [0, 1], TimeSpan.FromSeconds(10), TestActor) with { Follows = 2 });
        generator.Tell(new D.FeedbackComputed(new DiscriminatorId(0), 2, 2, 0.25, Gradient(1f)));
        Assert.Equal([0], ExpectMsg<G.GeneratorStepped>(TimeSpan.FromSeconds(5), cancellationToken: TestContext.Current.CancellationToken).Answered);
        var declined = ExpectMsg<G.RoundDeclined>(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal((3L, 3L), (declined.Round, declined.RequestId));
        Assert.Contains("round 2", declined.Reason);

        // Scheduled again as an ordinary round, it is played.
        generator.Tell(Step(3, [0], TimeSpan.FromSeconds(10), TestActor));
        Assert.Equal(3, region.ExpectMsg<D.ComputeFeedback>(cancellationToken: TestContext.Current.CancellationToken).Round);
    }

    [Fact]
    public void Generator_should_answer_samples_and_reject_a_bad_count()
    {
        var (generator, _) = Configured();
        generator.Tell(new G.GetSamples(G0, 1, 100, TestActor));
        Assert.Equal([100L, 2], ExpectMsg<G.SamplesProduced>(cancellationToken: TestContext.Current.CancellationToken).Samples.Shape);
        generator.Tell(new G.GetSamples(G0, 1, 0, TestActor));
        Assert.Contains("positive", ExpectMsg<E.Rejected>(cancellationToken: TestContext.Current.CancellationToken).Reason);
    }
}
