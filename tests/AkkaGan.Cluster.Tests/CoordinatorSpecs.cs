using Akka.Actor;
using AkkaGan.Cluster.Coordinator;
using AkkaGan.Cluster.Discriminator;
using AkkaGan.Cluster.Generator;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Cluster.Tests;

public sealed class CoordinatorSpecs : Akka.TestKit.Xunit.TestKit
{
    public CoordinatorSpecs() : base(DiscriminatorActorSpecs.Config) { }

    private static readonly TrainingSettings Small = new()
    {
        Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = 6, EvalEvery = 3, CheckpointEvery = 3, EvalSamples = 200, Unroll = 0,
    };

    /// <summary>Generator and discriminators behind local routers (the shard regions' stand-ins) and a coordinator.</summary>
    private IActorRef Coordinator(TimeSpan? stepTimeout = null, IActorRef? discriminators = null)
    {
        var ds = discriminators ?? Sys.ActorOf(Props.Create(() => new EntityRouter((id, self) => DiscriminatorActor.Props(DiscriminatorId.Parse(id), self, RunData.Create))));
        var generator = Sys.ActorOf(Props.Create(() => new EntityRouter((_, _) => GeneratorActor.Props(GeneratorId.Default, ds))));
        return Sys.ActorOf(CoordinatorActor.Props(generator, ds, stepTimeout ?? TimeSpan.FromSeconds(30)));
    }

    public static TheoryData<string> Cases => new() { "plain", "unroll-5-second-order", "population-3-softmax-evolving" };

    private static TrainingSettings Case(string name) => name switch
    {
        "plain" => Small,
        "unroll-5-second-order" => Small with { Unroll = 5, UnrollOrder = UnrollOrder.Second },
        _ => Small with { Discriminators = 3, Aggregate = AggregationKind.Softmax, SoftmaxLambda = 2, EvolveEvery = 2, NCritic = 2, Unroll = 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    [Trait("Category", "Slow")]
    public void The_actor_engine_should_end_with_the_reference_engines_parameters(string name)
    {
        var settings = Case(name);
        Coordinator().Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, TestActor));
        var (final, events) = EngineEquivalence.FollowToCompletion(this, settings, TimeSpan.FromSeconds(120));
        EngineEquivalence.AssertSameAsReference(settings, final);
        Assert.Equal(settings.Rounds, events.OfType<C.RoundCompleted>().Count());
        Assert.Equal(2, events.OfType<C.Evaluated>().Count());
        Assert.All(events.OfType<C.Evaluated>(), e => Assert.Equal(8, e.Report.Mixture!.Modes));
        if (settings.EvolveEvery > 0) Assert.Equal(3, events.OfType<C.Evolved>().Count());
    }

    [Fact]
    public void A_silent_discriminator_should_be_timed_out_and_the_round_carried_on_with_the_rest()
    {
        // d-1 swallows everything after configuration: the coordinator must not hang on it.
        var settings = Small with { Discriminators = 2, Rounds = 2, EvalEvery = 100, CheckpointEvery = 100 };
        var ds = Sys.ActorOf(Props.Create(() => new EntityRouter((id, self) => id == "d-1"
            ? Props.Create(() => new SilentAfterConfigure())
            : DiscriminatorActor.Props(DiscriminatorId.Parse(id), self, RunData.Create))));
        Coordinator(TimeSpan.FromMilliseconds(500), ds).Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, TestActor));
        var first = FishForMessage<C.RoundCompleted>(_ => true, TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([0], first.Report.FeedbackMembers);
        Assert.Single(first.Report.Discriminators);
        var finished = FishForMessage<C.TrainingFinished>(_ => true, TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(finished.Completed, finished.Reason);
        Assert.Equal(2, finished.Round);
    }

    [Fact]
    public void Invalid_settings_should_fail_the_configuration_with_the_reason()
    {
        Func<TrainingSettings, Core.Data.IRealData> missing = _ => throw new Core.Data.DatasetException("/nowhere: file not found");
        var ds = Sys.ActorOf(Props.Create(() => new EntityRouter((id, self) => DiscriminatorActor.Props(DiscriminatorId.Parse(id), self, missing))));
        Coordinator(discriminators: ds).Tell(new C.StartTraining(SettingsJson.Serialize(Small), null, TestActor));
        var finished = FishForMessage<C.TrainingFinished>(_ => true, TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        Assert.False(finished.Completed);
        Assert.Contains("/nowhere: file not found", finished.Reason);
    }

    [Fact]
    public void A_stop_during_a_roll_back_should_end_the_run_at_its_last_checkpoint_at_once()
    {
        // The generator hangs from round 5 on (its node stopped answering): round 5 fails, the run rolls back to the
        // checkpoint of round 3 and keeps asking the generator to configure, up to 10 step timeouts. A stop ends that.
        var settings = Small with { Rounds = 100, EvalEvery = 100 };
        var ds = Sys.ActorOf(Props.Create(() => new EntityRouter((id, self) => DiscriminatorActor.Props(DiscriminatorId.Parse(id), self, RunData.Create))));
        var generator = Sys.ActorOf(Props.Create(() => new EntityRouter((_, _) => Props.Create(() => new GeneratorHangingAfter(ds, 4)))));
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(generator, ds, TimeSpan.FromSeconds(2)));
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, TestActor));
        FishForMessage<C.Faulted>(f => f.Report.Event == "rolled-back", TimeSpan.FromSeconds(60), cancellationToken: TestContext.Current.CancellationToken);
        coordinator.Tell(new C.StopTraining());
        // Without the stop, the roll-back would end in 10 attempts of 2 s with "the generator could not be recovered".
        var stopped = FishForMessage<C.Faulted>(f => f.Report.Event == "stopped", TimeSpan.FromSeconds(60), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains("the run ends at its last checkpoint, round 3", stopped.Report.Detail);
        var finished = FishForMessage<C.TrainingFinished>(_ => true, TimeSpan.FromSeconds(60), cancellationToken: TestContext.Current.CancellationToken);
        Assert.False(finished.Completed);
        Assert.Equal("stopped", finished.Reason);
        Assert.Equal(3, finished.Round);
    }

    /// <summary>A generator that works until round <c>lastRound</c>, then never answers again (a hung node).</summary>
    private sealed class GeneratorHangingAfter : ReceiveActor
    {
        public GeneratorHangingAfter(IActorRef discriminators, long lastRound)
        {
            var inner = Context.ActorOf(GeneratorActor.Props(GeneratorId.Default, discriminators));
            var hung = false;
            ReceiveAny(m =>
            {
                if (m is GeneratorProtocol.RunRound { Round: var round } && round > lastRound) hung = true;
                if (!hung) inner.Forward(m);
            });
        }
    }

    /// <summary>Answers Configure, then never again.</summary>
    private sealed class SilentAfterConfigure : ReceiveActor
    {
        public SilentAfterConfigure()
        {
            Receive<EntityProtocol.Configure>(m => m.ReplyTo.Tell(new EntityProtocol.Configured(m.EntityId, m.RequestId, "akka://test")));
            ReceiveAny(_ => { });
        }
    }
}
