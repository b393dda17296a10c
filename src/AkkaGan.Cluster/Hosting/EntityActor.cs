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
using E = AkkaGan.Cluster.Protocol.EntityProtocol;

namespace AkkaGan.Cluster.Hosting;

/// <summary>
/// What every entity actor does (<see cref="EntityProtocol"/>), written once for both roles: configure its core from
/// the run's settings, snapshot it for a checkpoint (saved to the state store first), restore a pushed state or its own
/// from the store, apply live settings, hand its state over when its shard moves, and one error policy: a request the
/// entity cannot serve (not configured, stale round, bad payload, bad settings) is answered with
/// <see cref="EntityProtocol.Rejected"/> naming the problem and echoing the request id, and the entity keeps its state.
/// The role actors add only their role work.
/// </summary>
/// <typeparam name="TCore">The role's computation (<see cref="GeneratorCore"/>, <see cref="DiscriminatorCore"/>).</typeparam>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The core is disposed in PostStop, the end of an actor's life.")]
public abstract class EntityActor<TCore> : ReceiveActor where TCore : class, IEntityCore
{
    private readonly WireInbox _inbox;
    private readonly EntityStore _store;
    private IActorRef _coordinator = ActorRefs.Nobody;

    /// <summary>
    /// An entity with id <paramref name="entityId"/>; it saves and loads its state in the state store when <paramref name="store"/>.
    /// </summary>
    protected EntityActor(string entityId, bool store)
    {
        EntityId = entityId;
        _inbox = new WireInbox(Context.System, Log);
        _store = new EntityStore(EntityStore.Of(Context, store), entityId);
        Receive<ISnapshotResponse>(m => _store.Handle(m));
        // A reassembled message is handled like any other (an entity has one behavior, so OnReceive is it).
        Receive<IWirePart>(p => _inbox.Receive(p, Self, Sender, OnReceive));
        Receive<E.Configure>(Configure);
        Receive<E.GetSnapshot>(m => Guarded(m, m.Round, m.ReplyTo, core =>
        {
            // Answered once the state store has it, so a completed checkpoint is in the store as well.
            var snapshot = core.Snapshot();
            _store.Save(m.Round, snapshot, Self, failure =>
            {
                if (failure is not null) Log.Warning("{0}: {1}", EntityId, failure);
                Wire.Tell(m.ReplyTo, new E.SnapshotTaken(EntityId, m.RequestId, m.Round, snapshot), Self);
            });
        }));
        Receive<E.RestoreSnapshot>(m => Guarded(m, 0, m.ReplyTo, core => Restore(core, m.Snapshot, m.RequestId, m.ReplyTo)));
        Receive<E.RecoverFromStore>(m => Guarded(m, 0, m.ReplyTo, _ => _store.Load(m.Round, Self, (state, reason) =>
        {
            if (state is null) Reject(m, m.Round, m.ReplyTo, reason!);
            else Guarded(m, 0, m.ReplyTo, core => Restore(core, state.Snapshot, m.RequestId, m.ReplyTo));
        })));
        Receive<E.ApplySettings>(m => Guarded(m, m.Round, m.ReplyTo, core =>
        {
            TrainingSettings settings;
            try
            {
                settings = SettingsJson.Deserialize(m.SettingsJson).Validate();
            }
            catch (Exception e) when (e is SettingsException or System.Text.Json.JsonException)
            {
                throw new ArgumentException(e.Message, e);
            }
            Update(core, settings, m.ResetLearningRate);
            Settings = settings;
            m.ReplyTo.Tell(new E.SettingsApplied(EntityId, m.RequestId, m.Round));
        }));
        Receive<E.HandOff>(_ =>
        {
            // The shard moves (this node leaves): hand the state to the coordinator, which restores it on the new node.
            if (Core is not null && !_coordinator.IsNobody())
            {
                Abandon();
                using var scope = NewDisposeScope();
                Wire.Tell(_coordinator, new E.HandedOff(EntityId, Round, NodeAddress, Core.Snapshot()), Self);
            }
            Context.Stop(Self);
        });
    }

    /// <summary>The entity's id (<c>g-i</c>, <c>d-i</c>).</summary>
    protected string EntityId { get; }

    /// <summary>The entity's log.</summary>
    protected ILoggingAdapter Log { get; } = Context.GetLogger();

    /// <summary>Sends large messages in chunks (snapshots, tensors).</summary>
    protected LargeMessages Wire { get; } = new(Context.System);

    /// <summary>The computation, once configured.</summary>
    protected TCore? Core { get; private set; }

    /// <summary>The run's settings as this entity last received them.</summary>
    protected TrainingSettings? Settings { get; private set; }

    /// <summary>A round's tensor as it goes to another entity: in the run's wire element type (<c>train.wire-dtype</c>).</summary>
    protected TensorPayload RoundPayload(Tensor tensor) => TensorCodec.ToPayload(tensor, TensorCodec.Narrowing(Settings!.WireDType));

    /// <summary>The last round this entity stepped in (0 after a configure or a restore).</summary>
    protected long Round { get; set; }

    /// <summary>Whether requests of a round older than <see cref="Round"/> are refused (a discriminator's are).</summary>
    protected virtual bool RejectsStaleRounds => false;

    /// <summary>This node's address, reported with <c>Configured</c> so users see where each entity runs.</summary>
    protected string NodeAddress => ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString();

    /// <summary>The role's computation for <paramref name="settings"/> (throws <see cref="SettingsException"/>, <see cref="DatasetException"/>, ...).</summary>
    protected abstract TCore Create(TrainingSettings settings);

    /// <summary>The role's part of a live change.</summary>
    protected abstract void Update(TCore core, TrainingSettings settings, bool resetLearningRate);

    /// <summary>Drops work in progress before the state is replaced or handed over (the generator's pending step).</summary>
    protected virtual void Abandon() { }

    private void Configure(E.Configure m)
    {
        try
        {
            var settings = SettingsJson.Deserialize(m.SettingsJson).Validate();
            Abandon();
            var core = Create(settings);
            Core?.Dispose();
            Core = core;
            Settings = settings;
            Round = 0;
            _coordinator = Sender; // the coordinator sends it (a step child may be the reply address)
            _store.RunId = m.RunId;
            m.ReplyTo.Tell(new E.Configured(EntityId, m.RequestId, NodeAddress));
        }
        catch (Exception e) when (e is SettingsException or DatasetException or System.Text.Json.JsonException or CheckpointException)
        {
            Reject(m, 0, m.ReplyTo, e.Message);
        }
    }

    private void Restore(TCore core, EntitySnapshot snapshot, long requestId, IActorRef replyTo)
    {
        Abandon();
        core.Restore(snapshot);
        Round = 0;
        replyTo.Tell(new E.Restored(EntityId, requestId, NodeAddress));
    }

    /// <summary>Runs a request against the core (inside one dispose scope) when it is configured and its round is not stale.</summary>
    protected void Guarded(IEntityRequest request, long round, IActorRef replyTo, Action<TCore> action)
    {
        if (Core is null)
        {
            Reject(request, round, replyTo, "not configured (send Configure first)");
            return;
        }
        if (RejectsStaleRounds && round > 0 && round < Round)
        {
            Reject(request, round, replyTo, $"stale round {round}: this entity is at round {Round}");
            return;
        }
        try
        {
            using var scope = NewDisposeScope();
            action(Core);
        }
        catch (Exception e) when (e is SerializationException or CheckpointException or ArgumentException)
        {
            Reject(request, round, replyTo, e.Message);
        }
    }

    /// <summary>Refuses <paramref name="request"/>, naming why; the entity keeps its state.</summary>
    protected void Reject(IEntityRequest request, long round, IActorRef replyTo, string reason)
    {
        var command = request.GetType().Name;
        Log.Warning("{0} rejected {1} (round {2}): {3}", EntityId, command, round, reason);
        replyTo.Tell(new E.Rejected(EntityId, request.RequestId, round, command, reason));
    }

    /// <summary>Disposes the core.</summary>
    protected override void PostStop()
    {
        Core?.Dispose();
        base.PostStop();
    }
}
