using Akka.Cluster.Sharding;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using AkkaGan.Cluster.Hosting;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Cluster.Wire;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;

namespace AkkaGan.Cluster.Discriminator;

/// <summary>
/// Entity <c>d-i</c>: owns one <see cref="DiscriminatorCore"/> and its real data (loaded on this node; data never
/// crosses the wire). Thin by design: it validates each command (configured, not stale, tensor shape), runs the
/// core synchronously inside one dispose scope, and replies. A bad command gets a
/// <see cref="D.CommandRejected"/> naming the problem; the entity keeps its state.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The core is disposed in PostStop, the end of an actor's life.")]
public sealed class DiscriminatorActor : ReceiveActor
{
    private readonly DiscriminatorId _id;
    private readonly IActorRef _discriminators;
    private readonly Func<TrainingSettings, IRealData> _data;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LargeMessages _wire = new(Context.System);
    private readonly ChunkAssembler _chunks;
    private readonly EntityStore _store;
    private DiscriminatorCore? _core;
    private long[] _sampleShape = [];
    private long _round;
    private IActorRef _coordinator = ActorRefs.Nobody;

    /// <param name="discriminators">Where D -> D transfers go (the discriminator shard region).</param>
    /// <param name="data">Loads the real data a run's settings name (cached per node by the caller).</param>
    /// <param name="store">Whether this node has a state store (<see cref="StateStoreHosting"/>): checkpoint rounds are saved to it.</param>
    public DiscriminatorActor(DiscriminatorId id, IActorRef discriminators, Func<TrainingSettings, IRealData> data, bool store = false)
    {
        _id = id;
        _discriminators = discriminators;
        _data = data;
        _chunks = new ChunkAssembler(_wire.Serializer);
        _store = new EntityStore(EntityStore.Of(Context, store), id.EntityId);
        Receive<ISnapshotResponse>(m => _store.Handle(m));
        // A reassembled message is handled like any other (this actor has one behavior, so OnReceive is it).
        Receive<Chunk>(c => ChunkHandling.Receive(_chunks, c, _log, OnReceive));
        Receive<D.Configure>(Configure);
        Receive<D.TrainStep>(m => Guarded(m.Round, nameof(D.TrainStep), m.ReplyTo, core =>
        {
            using var fake = Decode(m.Fake);
            var result = core.TrainStep(m.Round, m.CriticStep, fake);
            _round = m.Round;
            m.ReplyTo.Tell(new D.TrainStepDone(result));
        }));
        Receive<D.ComputeFeedback>(m => Guarded(m.Round, nameof(D.ComputeFeedback), m.ReplyTo, core =>
        {
            using var fake = Decode(m.Fake);
            var feedback = core.Feedback(m.Round, fake);
            _round = m.Round;
            _wire.Tell(m.ReplyTo, new D.FeedbackComputed(_id, m.Round, feedback.Loss, TensorCodec.ToPayload(feedback.Gradient)), Self);
        }));
        Receive<D.MeasureFitness>(m => Guarded(m.Round, nameof(D.MeasureFitness), m.ReplyTo, core =>
        {
            using var fake = Decode(m.Fake);
            m.ReplyTo.Tell(new D.FitnessMeasured(_id, m.Round, core.Fitness(m.Round, fake)));
        }));
        Receive<D.TransferWeights>(m => Guarded(m.Round, nameof(D.TransferWeights), m.ReplyTo, core =>
            _wire.Tell(_discriminators, new D.AdoptWeights(m.Target, core.Snapshot(), m.LearningRate, m.Round, m.ReplyTo), Self)));
        Receive<D.AdoptWeights>(m => Guarded(m.Round, nameof(D.AdoptWeights), m.ReplyTo, core =>
        {
            core.CopyFrom(m.Snapshot, m.LearningRate);
            m.ReplyTo.Tell(new D.WeightsAdopted(_id, m.Round, m.LearningRate));
        }));
        Receive<D.GetSnapshot>(m => Guarded(m.Round, nameof(D.GetSnapshot), m.ReplyTo, core =>
        {
            // Answered once the state store has it, so a completed checkpoint is in the store as well.
            var snapshot = core.Snapshot();
            _store.Save(m.Round, snapshot, Self, failure =>
            {
                if (failure is not null) _log.Warning("{0}: {1}", _id, failure);
                _wire.Tell(m.ReplyTo, new D.SnapshotTaken(_id, m.Round, snapshot), Self);
            });
        }));
        Receive<D.RecoverFromStore>(m => Guarded(0, nameof(D.RecoverFromStore), m.ReplyTo, _ => _store.Load(m.Round, Self, (state, reason) =>
        {
            if (state is null)
            {
                Reject(m.ReplyTo, m.Round, nameof(D.RecoverFromStore), reason!);
                return;
            }
            Guarded(0, nameof(D.RecoverFromStore), m.ReplyTo, core =>
            {
                core.Restore(state.Snapshot);
                _round = 0;
                m.ReplyTo.Tell(new D.Restored(_id, NodeAddress));
            });
        })));
        Receive<D.ApplySettings>(m => Guarded(m.Round, nameof(D.ApplySettings), m.ReplyTo, core =>
        {
            try
            {
                core.Update(SettingsJson.Deserialize(m.SettingsJson).Validate(), m.ResetLearningRate);
            }
            catch (Exception e) when (e is SettingsException or System.Text.Json.JsonException)
            {
                throw new ArgumentException(e.Message, e);
            }
            m.ReplyTo.Tell(new D.SettingsApplied(_id, m.Round));
        }));
        Receive<D.HandOff>(_ =>
        {
            // The shard moves (this node leaves): hand the state to the coordinator, which restores it on the new node.
            if (_core is not null && !_coordinator.IsNobody())
            {
                using var scope = NewDisposeScope();
                _wire.Tell(_coordinator, new D.HandedOff(_id, _round, NodeAddress, _core.Snapshot()), Self);
            }
            Context.Stop(Self);
        });
        Receive<D.Retire>(m =>
        {
            _log.Info("{0} left the population at round {1}", _id, m.Round);
            _core?.Dispose();
            _core = null;
            // Passivation also drops the entity from the remembered set, so it is not restarted after a rebalance.
            Context.Parent.Tell(new Passivate(PoisonPill.Instance));
        });
        Receive<D.RestoreSnapshot>(m => Guarded(0, nameof(D.RestoreSnapshot), m.ReplyTo, core =>
        {
            core.Restore(m.Snapshot);
            _round = 0;
            m.ReplyTo.Tell(new D.Restored(_id, NodeAddress));
        }));
    }

    /// <summary>This node's address, reported with <c>Configured</c> so users see where each entity runs.</summary>
    private string NodeAddress => ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString();

    public static Props Props(DiscriminatorId id, IActorRef discriminators, Func<TrainingSettings, IRealData> data, bool store = false)
        => Akka.Actor.Props.Create(() => new DiscriminatorActor(id, discriminators, data, store));

    private void Configure(D.Configure m)
    {
        try
        {
            var settings = SettingsJson.Deserialize(m.SettingsJson).Validate();
            var data = _data(settings);
            _core?.Dispose();
            _core = new DiscriminatorCore(settings, _id.Member, data, RunData.ResolveDevice(settings.Device), m.Loss, m.LearningRate);
            _sampleShape = data.SampleShape;
            _round = 0;
            _coordinator = m.ReplyTo;
            _store.RunId = m.RunId;
            m.ReplyTo.Tell(new D.Configured(_id, NodeAddress));
        }
        catch (Exception e) when (e is SettingsException or DatasetException or System.Text.Json.JsonException or CheckpointException)
        {
            Reject(m.ReplyTo, 0, nameof(D.Configure), e.Message);
        }
    }

    /// <summary>Runs a command against the core when it is configured and the round is not stale.</summary>
    private void Guarded(long round, string command, IActorRef replyTo, Action<DiscriminatorCore> action)
    {
        if (_core is null)
        {
            Reject(replyTo, round, command, "not configured (send Configure first)");
            return;
        }
        if (round > 0 && round < _round)
        {
            Reject(replyTo, round, command, $"stale round {round}: this discriminator is at round {_round}");
            return;
        }
        try
        {
            using var scope = NewDisposeScope();
            action(_core);
        }
        catch (Exception e) when (e is SerializationException or CheckpointException or ArgumentException)
        {
            Reject(replyTo, round, command, e.Message);
        }
    }

    /// <summary>The payload as a tensor of shape (B, ...sample shape), or a rejection naming the mismatch.</summary>
    private Tensor Decode(TensorPayload payload)
    {
        if (payload.Shape.Length != _sampleShape.Length + 1 || !payload.Shape.Skip(1).SequenceEqual(_sampleShape) || payload.Shape[0] < 1)
            throw new ArgumentException(
                $"tensor of shape [{string.Join(", ", payload.Shape)}] does not fit this discriminator's samples (expected [B, {string.Join(", ", _sampleShape)}])");
        return TensorCodec.ToTensor(payload, ScalarType.Float32);
    }

    private void Reject(IActorRef replyTo, long round, string command, string reason)
    {
        _log.Warning("{0} rejected {1} (round {2}): {3}", _id, command, round, reason);
        replyTo.Tell(new D.CommandRejected(_id, round, command, reason));
    }

    protected override void PostStop()
    {
        _core?.Dispose();
        base.PostStop();
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
    public static AkkaConfigurationBuilder AddDiscriminators(this AkkaConfigurationBuilder builder, Func<TrainingSettings, IRealData> data, bool store = false)
        => builder.WithShardRegion<DiscriminatorRegion>(Roles.Discriminator,
            (_, registry, _) => entityId => DiscriminatorActor.Props(DiscriminatorId.Parse(entityId), registry.Get<DiscriminatorRegion>(), data, store)
                .WithDispatcher(Roles.ComputeDispatcher),
            new DiscriminatorMessageExtractor(),
            new ShardOptions { Role = Roles.Discriminator, RememberEntities = true, StateStoreMode = StateStoreMode.DData, HandOffStopMessage = D.HandOff.Instance });

    /// <summary>A proxy to the discriminator region, for nodes without the role.</summary>
    public static AkkaConfigurationBuilder AddDiscriminatorProxy(this AkkaConfigurationBuilder builder)
        => builder.WithShardRegionProxy<DiscriminatorRegion>(Roles.Discriminator, Roles.Discriminator, new DiscriminatorMessageExtractor());
}
