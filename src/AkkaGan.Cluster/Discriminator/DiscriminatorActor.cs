using Akka.Cluster.Sharding;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using AkkaGan.Cluster.Hosting;
using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Cluster.Diagnostics;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;

namespace AkkaGan.Cluster.Discriminator;

/// <summary>
/// Entity <c>d-i</c>: owns one <see cref="DiscriminatorCore"/> and its real data (loaded on this node; data never
/// crosses the wire). What every entity does is <see cref="EntityActor{TCore}"/>'s; this adds the role work: critic
/// steps, feedback, fitness and the D -> D weight transfer of evolution, each validated (configured, not stale, tensor
/// shape), run synchronously inside one dispose scope and answered with the request's id.
/// </summary>
public sealed class DiscriminatorActor : EntityActor<DiscriminatorCore>
{
    private readonly DiscriminatorId _id;
    private readonly IActorRef _discriminators;
    private readonly Func<TrainingSettings, IRealData> _data;
    private long[] _sampleShape = [];

    /// <summary>An unconfigured member entity: it refuses role work until an <see cref="EntityProtocol.Configure"/>.</summary>
    /// <param name="id">The member this entity is (<c>d-i</c>).</param>
    /// <param name="discriminators">Where D -> D transfers go (the discriminator shard region).</param>
    /// <param name="data">Loads the real data a run's settings name (cached per node by the caller).</param>
    /// <param name="store">Whether this node has a state store (<see cref="StateStoreHosting"/>): checkpoint rounds are saved to it.</param>
    public DiscriminatorActor(DiscriminatorId id, IActorRef discriminators, Func<TrainingSettings, IRealData> data, bool store = false) : base(id.EntityId, store)
    {
        _id = id;
        _discriminators = discriminators;
        _data = data;
        Receive<D.TrainStep>(m => Guarded(m, m.Round, m.ReplyTo, core =>
        {
            RoundTrace.Mark("d.critic", m.Round);
            using var fake = Decode(m.Fake);
            var result = core.TrainStep(m.Round, m.CriticStep, fake);
            Round = m.Round;
            m.ReplyTo.Tell(new D.TrainStepDone(m.RequestId, result));
            RoundTrace.Mark("d.critic-done", m.Round);
        }));
        Receive<D.ComputeFeedback>(m => Guarded(m, m.Round, m.ReplyTo, core =>
        {
            RoundTrace.Mark("d.feedback", m.Round);
            using var fake = Decode(m.Fake);
            var feedback = core.Feedback(m.Round, fake);
            Round = m.Round;
            Wire.Tell(m.ReplyTo, new D.FeedbackComputed(_id, m.RequestId, m.Round, feedback.Loss, RoundPayload(feedback.Gradient)), Self);
            RoundTrace.Mark("d.feedback-sent", m.Round);
        }));
        Receive<D.MeasureFitness>(m => Guarded(m, m.Round, m.ReplyTo, core =>
        {
            using var fake = Decode(m.Fake);
            m.ReplyTo.Tell(new D.FitnessMeasured(_id, m.RequestId, m.Round, core.Fitness(m.Round, fake)));
        }));
        Receive<D.TransferWeights>(m => Guarded(m, m.Round, m.ReplyTo, core =>
            Wire.Tell(_discriminators, new D.AdoptWeights(m.Target, m.RequestId, core.Snapshot(), m.LearningRate, m.Round, m.ReplyTo), Self)));
        Receive<D.AdoptWeights>(m => Guarded(m, m.Round, m.ReplyTo, core =>
        {
            core.CopyFrom(m.Snapshot, m.LearningRate);
            m.ReplyTo.Tell(new D.WeightsAdopted(_id, m.RequestId, m.Round, m.LearningRate));
        }));
        Receive<D.Retire>(m =>
        {
            Log.Info("{0} left the population at round {1}", _id, m.Round);
            // Passivation also drops the entity from the remembered set, so it is not restarted after a rebalance.
            Context.Parent.Tell(new Passivate(PoisonPill.Instance));
        });
    }

    /// <summary>True: a discriminator refuses requests of a round older than the last it stepped in (a late message).</summary>
    protected override bool RejectsStaleRounds => true;

    /// <summary>The entity's props; the parameters are the constructor's.</summary>
    /// <param name="id">The member this entity is (<c>d-i</c>).</param>
    /// <param name="discriminators">Where D -> D transfers go (the discriminator shard region).</param>
    /// <param name="data">Loads the real data a run's settings name.</param>
    /// <param name="store">Whether this node has a state store: checkpoint rounds are saved to it.</param>
    public static Props Props(DiscriminatorId id, IActorRef discriminators, Func<TrainingSettings, IRealData> data, bool store = false)
        => Akka.Actor.Props.Create(() => new DiscriminatorActor(id, discriminators, data, store));

    /// <summary>
    /// Loads the real data the settings name and builds this member's core on the settings' device; incoming fake
    /// batches must then have the data's sample shape.
    /// </summary>
    protected override DiscriminatorCore Create(TrainingSettings settings)
    {
        // With data-shards, the factory is asked for this member's shard (a node then loads only it).
        var data = RunData.ForMember(_data(settings.ForDataShard(_id.Member)), settings, _id.Member);
        var core = new DiscriminatorCore(settings, _id.Member, data, RunData.ResolveDevice(settings.Device));
        _sampleShape = data.SampleShape;
        return core;
    }

    /// <summary>This member's settings from the run's new ones; its learning rate only when <paramref name="resetLearningRate"/>.</summary>
    protected override void Update(DiscriminatorCore core, TrainingSettings settings, bool resetLearningRate) => core.Update(settings, resetLearningRate);

    /// <summary>The payload as a tensor of shape (B, ...sample shape), or a rejection naming the mismatch.</summary>
    private Tensor Decode(TensorPayload payload)
    {
        if (payload.Shape.Length != _sampleShape.Length + 1 || !payload.Shape.Skip(1).SequenceEqual(_sampleShape) || payload.Shape[0] < 1)
            throw new ArgumentException(
                $"tensor of shape [{string.Join(", ", payload.Shape)}] does not fit this discriminator's samples (expected [B, {string.Join(", ", _sampleShape)}])");
        var tensor = TensorCodec.ToTensor(payload, ScalarType.Float32);
        // The tensor holds a copy; a payload read off the wire for this member alone gives its array back.
        PayloadPool.Release(payload);
        return tensor;
    }
}

/// <summary>Hosting: the discriminator entity type on nodes with the <c>discriminator</c> role, a proxy elsewhere.</summary>
public static class DiscriminatorHosting
{
    /// <summary>
    /// Starts the <c>discriminator</c> shard region (role-restricted, remember-entities, state in DData); entities
    /// run on the compute dispatcher and load their data with <paramref name="data"/>; with <paramref name="store"/> they save
    /// checkpoint rounds to the node's state store and recover from it.
    /// </summary>
    /// <param name="builder">The node's Akka configuration.</param>
    /// <param name="data">Loads the real data a run's settings name.</param>
    /// <param name="store">Whether the node has a state store.</param>
    public static AkkaConfigurationBuilder AddDiscriminators(this AkkaConfigurationBuilder builder, Func<TrainingSettings, IRealData> data, bool store = false)
        => builder.WithShardRegion<DiscriminatorRegion>(Roles.Discriminator,
            (_, registry, _) => entityId => DiscriminatorActor.Props(DiscriminatorId.Parse(entityId), registry.Get<DiscriminatorRegion>(), data, store)
                .WithDispatcher(Roles.ComputeDispatcher),
            new DiscriminatorMessageExtractor(),
            new ShardOptions { Role = Roles.Discriminator, RememberEntities = true, StateStoreMode = StateStoreMode.DData, HandOffStopMessage = EntityProtocol.HandOff.Instance });

    /// <summary>A proxy to the discriminator region, for nodes without the role.</summary>
    /// <param name="builder">The node's Akka configuration.</param>
    public static AkkaConfigurationBuilder AddDiscriminatorProxy(this AkkaConfigurationBuilder builder)
        => builder.WithShardRegionProxy<DiscriminatorRegion>(Roles.Discriminator, Roles.Discriminator, new DiscriminatorMessageExtractor());
}
