using Akka.Actor;
using Akka.Persistence;
using AkkaGan.Core.Checkpoints;
using S = AkkaGan.Cluster.Protocol.StateProtocol;

namespace AkkaGan.Cluster.Persistence;

/// <summary>
/// An entity's conversation with the state store (Akka.Persistence's snapshot store actor): save its state of a
/// checkpoint round, load it back for recovery. Entities stay plain actors (see docs/architecture.md, "State store"):
/// the persistence id needs the run id, which arrives with <c>Configure</c>, and the coordinator decides which round
/// to recover, so the entity asks the store explicitly instead of replaying at start. The round is the sequence number,
/// so a checkpoint round addresses exactly one snapshot (a roll-back that reaches the round again overwrites it).
/// </summary>
/// <param name="store">The node's snapshot store; null when the node has none (every request then fails with a reason).</param>
internal sealed class EntityStore(IActorRef? store, string entityId)
{
    private readonly Dictionary<long, (EntitySnapshot Snapshot, Action<string?> Then)> _saves = [];
    private (long Round, Action<S.EntityState?, string?> Then)? _load;

    /// <summary>The run the entity trains in ("" until configured with one: nothing is stored).</summary>
    public string RunId { get; set; } = "";

    /// <summary>Whether checkpoint rounds are saved: the node has a store and the run has an id.</summary>
    public bool Saves => store is not null && RunId.Length > 0;

    /// <summary>The node's snapshot store, when <c>akkagan.persistence</c> wired one (<see cref="StateStoreHosting"/>).</summary>
    public static IActorRef? Of(IActorContext context, bool enabled)
        => enabled ? Akka.Persistence.Persistence.Instance.Apply(context.System).SnapshotStoreFor(null) : null;

    private string PersistenceId => StateStore.PersistenceId(RunId, entityId);

    /// <summary>Saves the state of <paramref name="round"/>; <paramref name="then"/> runs with null or the failure's reason.</summary>
    public void Save(long round, EntitySnapshot snapshot, IActorRef self, Action<string?> then)
    {
        if (!Saves)
        {
            then(null);
            return;
        }
        _saves[round] = (snapshot, then);
        store!.Tell(new SaveSnapshot(new SnapshotMetadata(PersistenceId, round, DateTime.UtcNow), new S.EntityState(entityId, round, snapshot)), self);
    }

    /// <summary>Loads this entity's state of exactly <paramref name="round"/>; <paramref name="then"/> gets it, or null and why not.</summary>
    public void Load(long round, IActorRef self, Action<S.EntityState?, string?> then)
    {
        if (store is null || RunId.Length == 0)
        {
            then(null, store is null ? "its node has no state store (akkagan.persistence)" : "its node was configured without a run id");
            return;
        }
        _load = (round, then);
        store.Tell(new LoadSnapshot(PersistenceId, new SnapshotSelectionCriteria(round, DateTime.MaxValue, round), round), self);
    }

    /// <summary>Handles the store's answers; false for any other message.</summary>
    public bool Handle(ISnapshotResponse response)
    {
        switch (response)
        {
            case SaveSnapshotSuccess ok when _saves.Remove(ok.Metadata.SequenceNr, out var saved):
                saved.Then(null);
                return true;
            case SaveSnapshotFailure failed when _saves.Remove(failed.Metadata.SequenceNr, out var saved):
                saved.Then($"saving {PersistenceId} at round {failed.Metadata.SequenceNr} failed: {failed.Cause.Message}");
                return true;
            case LoadSnapshotResult result when _load is { } load && load.Round == result.ToSequenceNr:
                _load = null;
                if (result.Snapshot?.Snapshot is S.EntityState state && state.Round == load.Round && state.EntityId == entityId)
                    load.Then(state, null);
                else
                    load.Then(null, $"the state store has no snapshot of {PersistenceId} at round {load.Round}");
                return true;
            case LoadSnapshotFailed failed when _load is { } load:
                _load = null;
                load.Then(null, $"loading {PersistenceId} at round {load.Round} failed: {failed.Cause.Message}");
                return true;
            default:
                return false;
        }
    }
}
