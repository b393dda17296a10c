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
using AkkaGan.Core.Population;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;

namespace AkkaGan.Cluster.Generator;

/// <summary>
/// Entity <c>g-0</c>: owns the <see cref="GeneratorCore"/>. Sends each discriminator its fake batch directly, runs the
/// generator step (x_fake out to the selected members, their dL/dx_fake back, aggregated in member order, stepped),
/// and gives evaluation samples and snapshots. The step's graph lives only between <c>RunRound</c> and the
/// last answer or the step's timeout; members that do not answer in time (or reject) are left out of the aggregate.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The core is disposed in PostStop, the end of an actor's life.")]
public sealed class GeneratorActor : ReceiveActor, IWithTimers
{
    private readonly GeneratorId _id;
    private readonly IActorRef _discriminators;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LargeMessages _wire = new(Context.System);
    private readonly ChunkAssembler _chunks;
    private readonly EntityStore _store;
    private GeneratorCore? _core;
    private TrainingSettings? _settings;
    private PendingStep? _pending;
    private IActorRef _coordinator = ActorRefs.Nobody;
    private long _round;

    /// <param name="discriminators">The discriminator shard region (or any router of <see cref="IWithDiscriminatorId"/> messages).</param>
    /// <param name="store">Whether this node has a state store: checkpoint rounds are saved to it.</param>
    public GeneratorActor(GeneratorId id, IActorRef discriminators, bool store = false)
    {
        _id = id;
        _discriminators = discriminators;
        _chunks = new ChunkAssembler(_wire.Serializer);
        _store = new EntityStore(EntityStore.Of(Context, store), id.EntityId);
        Receive<ISnapshotResponse>(m => _store.Handle(m));
        // A reassembled message is handled like any other (this actor has one behavior, so OnReceive is it).
        Receive<Chunk>(c => ChunkHandling.Receive(_chunks, c, _log, OnReceive));
        Receive<G.Configure>(Configure);
        Receive<G.RunRound>(m => Guarded(m.Round, nameof(G.RunRound), m.ReplyTo, (core, settings) =>
        {
            if (m.Members.Length == 0) throw new ArgumentException("a generator step needs at least one discriminator");
            // The generator's weights do not change during the critic phase, so every critic batch can go out now; each
            // discriminator steps on them in order and then answers the generator step's feedback request.
            for (var step = 0; step < m.CriticSteps; step++) SendCriticFakes(core, settings, m.Round, step, m.Critics, m.ReplyTo);
            BeginStep(core, m);
        }));
        Receive<D.FeedbackComputed>(m =>
        {
            if (_pending is not { } p || p.Round != m.Round || !p.Waiting.Remove(m.Discriminator.Member)) return; // late or unknown
            p.Answers[m.Discriminator.Member] = m;
            if (p.Waiting.Count == 0) CompleteStep();
        });
        Receive<D.CommandRejected>(m =>
        {
            if (_pending is not { } p || p.Round != m.Round || !p.Waiting.Remove(m.Discriminator.Member)) return;
            _log.Warning("{0} left out of round {1}: {2}", m.Discriminator, m.Round, m.Reason);
            if (p.Waiting.Count == 0) CompleteStep();
        });
        Receive<StepTimedOut>(m =>
        {
            if (_pending is not { } p || p.Round != m.Round) return;
            _log.Warning("generator step of round {0}: no answer from {1} within {2}", m.Round,
                string.Join(", ", p.Waiting.Order().Select(i => new DiscriminatorId(i))), p.Timeout);
            CompleteStep();
        });
        Receive<G.ProduceFitnessBatch>(m => Guarded(m.Round, nameof(G.ProduceFitnessBatch), m.ReplyTo, (core, settings) =>
        {
            using var fake = core.GenerateFakes(m.Round, 0, -1, settings.Batch);
            var payload = TensorCodec.ToPayload(fake);
            foreach (var member in m.Members)
                _wire.Tell(_discriminators, new D.MeasureFitness(new DiscriminatorId(member), m.Round, payload, m.ReplyTo), Self);
        }));
        Receive<G.GetSamples>(m => Guarded(0, nameof(G.GetSamples), m.ReplyTo, (core, _) =>
        {
            if (m.Count < 1) throw new ArgumentException($"sample count must be positive (got {m.Count})");
            using var samples = core.Sample(m.Count);
            _wire.Tell(m.ReplyTo, new G.SamplesProduced(_id, TensorCodec.ToPayload(samples)), Self);
        }));
        Receive<G.GetSnapshot>(m => Guarded(m.Round, nameof(G.GetSnapshot), m.ReplyTo, (core, _) =>
        {
            var snapshot = core.Snapshot();
            _store.Save(m.Round, snapshot, Self, failure =>
            {
                if (failure is not null) _log.Warning("{0}: {1}", _id, failure);
                _wire.Tell(m.ReplyTo, new G.SnapshotTaken(_id, m.Round, snapshot), Self);
            });
        }));
        Receive<G.RecoverFromStore>(m => Guarded(0, nameof(G.RecoverFromStore), m.ReplyTo, (_, _) => _store.Load(m.Round, Self, (state, reason) =>
        {
            if (state is null)
            {
                Reject(m.ReplyTo, m.Round, nameof(G.RecoverFromStore), reason!);
                return;
            }
            Guarded(0, nameof(G.RecoverFromStore), m.ReplyTo, (core, _) =>
            {
                AbortPending();
                core.Restore(state.Snapshot);
                m.ReplyTo.Tell(new G.Restored(_id, NodeAddress));
            });
        })));
        Receive<G.ApplySettings>(m => Guarded(m.Round, nameof(G.ApplySettings), m.ReplyTo, (core, _) =>
        {
            try
            {
                _settings = SettingsJson.Deserialize(m.SettingsJson).Validate();
            }
            catch (Exception e) when (e is SettingsException or System.Text.Json.JsonException)
            {
                throw new ArgumentException(e.Message, e);
            }
            core.Update(_settings);
            m.ReplyTo.Tell(new G.SettingsApplied(_id, m.Round));
        }));
        Receive<G.HandOff>(_ =>
        {
            // The shard moves (this node leaves): hand the state to the coordinator, which restores it on the new node.
            if (_core is not null && !_coordinator.IsNobody())
            {
                AbortPending();
                using var scope = NewDisposeScope();
                _wire.Tell(_coordinator, new G.HandedOff(_id, _round, NodeAddress, _core.Snapshot()), Self);
            }
            Context.Stop(Self);
        });
        Receive<G.RestoreSnapshot>(m => Guarded(0, nameof(G.RestoreSnapshot), m.ReplyTo, (core, _) =>
        {
            core.Restore(m.Snapshot);
            m.ReplyTo.Tell(new G.Restored(_id, NodeAddress));
        }));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>This node's address, reported with <c>Configured</c> so users see where each entity runs.</summary>
    private string NodeAddress => ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString();

    public static Props Props(GeneratorId id, IActorRef discriminators, bool store = false)
        => Akka.Actor.Props.Create(() => new GeneratorActor(id, discriminators, store));

    private void Configure(G.Configure m)
    {
        try
        {
            var settings = SettingsJson.Deserialize(m.SettingsJson).Validate();
            AbortPending();
            _core?.Dispose();
            _core = new GeneratorCore(settings, RunData.SampleShape(settings), RunData.ResolveDevice(settings.Device));
            _settings = settings;
            _coordinator = m.ReplyTo;
            _round = 0;
            _store.RunId = m.RunId;
            m.ReplyTo.Tell(new G.Configured(_id, NodeAddress));
        }
        catch (Exception e) when (e is SettingsException or System.Text.Json.JsonException)
        {
            Reject(m.ReplyTo, 0, nameof(G.Configure), e.Message);
        }
    }

    private void SendCriticFakes(GeneratorCore core, TrainingSettings settings, long round, int criticStep, int[] members, IActorRef replyTo)
    {
        foreach (var member in members)
        {
            using var fake = core.GenerateFakes(round, criticStep, member, settings.Batch);
            _wire.Tell(_discriminators, new D.TrainStep(new DiscriminatorId(member), round, criticStep, TensorCodec.ToPayload(fake), replyTo), Self);
        }
    }

    /// <summary>The generator step of <paramref name="m"/>: x_fake out to its members, their answers awaited until its timeout.</summary>
    private void BeginStep(GeneratorCore core, G.RunRound m)
    {
        AbortPending();
        using var fake = core.BeginStep(m.Round);
        var payload = TensorCodec.ToPayload(fake);
        _pending = new PendingStep(m.Round, [.. m.Members], new SortedDictionary<int, D.FeedbackComputed>(), m.Timeout, m.ReplyTo);
        foreach (var member in m.Members)
            _wire.Tell(_discriminators, new D.ComputeFeedback(new DiscriminatorId(member), m.Round, payload, Self), Self);
        Timers.StartSingleTimer(nameof(StepTimedOut), new StepTimedOut(m.Round), m.Timeout);
    }

    /// <summary>Aggregates the answers received (in member order) and steps; with none, drops the step and says so.</summary>
    private void CompleteStep()
    {
        var p = _pending!;
        _pending = null;
        Timers.Cancel(nameof(StepTimedOut));
        if (p.Answers.Count == 0)
        {
            _core!.AbortStep();
            Reject(p.ReplyTo, p.Round, nameof(G.RunRound), $"no discriminator answered within {p.Timeout}");
            return;
        }
        try
        {
            using var scope = NewDisposeScope();
            var feedback = p.Answers.Values
                .Select(a => new GeneratorFeedback(a.Discriminator.Member, a.Loss, TensorCodec.ToTensor(a.Gradient, ScalarType.Float32)))
                .ToArray();
            var (gradient, loss) = Aggregation.Combine(_settings!.Aggregate, feedback, _settings.SoftmaxLambda);
            var result = _core!.CompleteStep(p.Round, gradient, loss);
            _round = p.Round;
            p.ReplyTo.Tell(new G.GeneratorStepped(_id, result, [.. p.Answers.Keys]));
        }
        catch (Exception e) when (e is SerializationException or ArgumentException or InvalidOperationException)
        {
            _core!.AbortStep();
            Reject(p.ReplyTo, p.Round, nameof(G.RunRound), e.Message);
        }
    }

    private void AbortPending()
    {
        if (_pending is null) return;
        _log.Warning("generator step of round {0} abandoned for a new command", _pending.Round);
        _core?.AbortStep();
        _pending = null;
        Timers.Cancel(nameof(StepTimedOut));
    }

    private void Guarded(long round, string command, IActorRef replyTo, Action<GeneratorCore, TrainingSettings> action)
    {
        if (_core is null || _settings is null)
        {
            Reject(replyTo, round, command, "not configured (send Configure first)");
            return;
        }
        try
        {
            using var scope = NewDisposeScope();
            action(_core, _settings);
        }
        catch (Exception e) when (e is SerializationException or CheckpointException or ArgumentException)
        {
            Reject(replyTo, round, command, e.Message);
        }
    }

    private void Reject(IActorRef replyTo, long round, string command, string reason)
    {
        _log.Warning("{0} rejected {1} (round {2}): {3}", _id, command, round, reason);
        replyTo.Tell(new G.CommandRejected(_id, round, command, reason));
    }

    protected override void PostStop()
    {
        _core?.Dispose();
        base.PostStop();
    }

    private sealed record PendingStep(long Round, HashSet<int> Waiting, SortedDictionary<int, D.FeedbackComputed> Answers, TimeSpan Timeout, IActorRef ReplyTo);

    private sealed record StepTimedOut(long Round);
}

/// <summary>Hosting: the generator entity type on nodes with the <c>generator</c> role, a proxy elsewhere.</summary>
public static class GeneratorHosting
{
    /// <summary>
    /// Starts the <c>generator</c> shard region; needs the discriminator region (or proxy) registered first. With
    /// <paramref name="store"/> the generator saves checkpoint rounds to the node's state store and recovers from it.
    /// </summary>
    public static AkkaConfigurationBuilder AddGenerator(this AkkaConfigurationBuilder builder, bool store = false)
        => builder.WithShardRegion<GeneratorRegion>(Roles.Generator,
            (_, registry, _) => _ => GeneratorActor.Props(GeneratorId.Default, registry.Get<DiscriminatorRegion>(), store).WithDispatcher(Roles.ComputeDispatcher),
            new GeneratorMessageExtractor(),
            new ShardOptions { Role = Roles.Generator, RememberEntities = true, StateStoreMode = StateStoreMode.DData, HandOffStopMessage = G.HandOff.Instance });

    /// <summary>A proxy to the generator region, for nodes without the role.</summary>
    public static AkkaConfigurationBuilder AddGeneratorProxy(this AkkaConfigurationBuilder builder)
        => builder.WithShardRegionProxy<GeneratorRegion>(Roles.Generator, Roles.Generator, new GeneratorMessageExtractor());
}
