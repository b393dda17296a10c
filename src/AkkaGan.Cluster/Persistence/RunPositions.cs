using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using S = AkkaGan.Cluster.Protocol.StateProtocol;

namespace AkkaGan.Cluster.Persistence;

/// <summary>
/// The coordinator's conversation with the state store (DESIGN.md section 6), as <see cref="EntityStore"/> is an
/// entity's: which round of each entity's own snapshot the last checkpoint holds, the run's position saved under
/// <c>&lt;run-id&gt;/coordinator</c> after each checkpoint, the older snapshots pruned once a position is confirmed, and
/// a stored position read back as a checkpoint when a coordinator starts again under the same run id.
/// </summary>
/// <param name="store">The node's snapshot store (null: none).</param>
internal sealed class RunPositions(IActorRef? store)
{
    /// <summary>How long one read of the store may take at start (a remote PostgreSQL included).</summary>
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(30);

    // For every entity, the round of its snapshot in the store that the last checkpoint holds.
    private readonly Dictionary<string, long> _stored = [];
    // Positions sent to the store and not yet confirmed (round -> the entity rounds they name): what pruning keeps.
    private readonly Dictionary<long, IReadOnlyList<S.StoredRound>> _saving = [];

    /// <summary>The run's id in the store ("": nothing stored).</summary>
    public string RunId { get; set; } = "";

    /// <summary>Whether the run's state goes to a store: the node has one and the run an id.</summary>
    public bool Enabled => store is not null && RunId.Length > 0;

    /// <summary>The round of <paramref name="entityId"/>'s own snapshot in the store that the last checkpoint holds (null: none).</summary>
    public long? RoundOf(string entityId) => Enabled && _stored.TryGetValue(entityId, out var round) ? round : null;

    /// <summary>The entities' rounds of a position read back from the store (a coordinator started again).</summary>
    public void Continue(IReadOnlyDictionary<string, long> stored)
    {
        foreach (var (entity, round) in stored) _stored[entity] = round;
    }

    /// <summary>A member left the population: the next position no longer names it.</summary>
    public void Forget(string entityId) => _stored.Remove(entityId);

    /// <summary>A checkpoint of <paramref name="round"/> completed and <paramref name="saved"/> entities hold it in the store: save the position.</summary>
    public void Save(long round, TrainingSettings settings, IEnumerable<string> saved, IActorRef self)
    {
        if (!Enabled) return;
        foreach (var entity in saved) _stored[entity] = round;
        var position = new S.RunPosition(RunId, round, SettingsJson.Serialize(settings), settings.Seed,
            [.. _stored.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new S.StoredRound(e.Key, e.Value))]);
        _saving[round] = position.Stored;
        store!.Tell(new SaveSnapshot(new SnapshotMetadata(StateStore.PersistenceId(RunId, StateStore.CoordinatorEntity), round, DateTime.UtcNow), position), self);
    }

    /// <summary>
    /// The store's answer: once a position is stored, every older snapshot is deleted (the entities' below the rounds
    /// the position names, the older positions), so the store holds one checkpoint's state, not one per checkpoint.
    /// </summary>
    public void Confirmed(ISnapshotResponse response, IActorRef self, ILoggingAdapter log)
    {
        switch (response)
        {
            case SaveSnapshotFailure failed:
                _saving.Remove(failed.Metadata.SequenceNr);
                log.Warning("the position of round {0} was not saved to the state store: {1}", failed.Metadata.SequenceNr, failed.Cause.Message);
                break;
            case SaveSnapshotSuccess saved when _saving.Remove(saved.Metadata.SequenceNr, out var kept):
                foreach (var entity in kept)
                    store!.Tell(new DeleteSnapshots(StateStore.PersistenceId(RunId, entity.EntityId), new SnapshotSelectionCriteria(entity.Round - 1)), self);
                store!.Tell(new DeleteSnapshots(saved.Metadata.PersistenceId, new SnapshotSelectionCriteria(saved.Metadata.SequenceNr - 1)), self);
                break;
            case DeleteSnapshotsFailure failed:
                log.Warning("old snapshots of {0} were not deleted from the state store: {1}", failed.Criteria, failed.Cause.Message);
                break;
        }
    }

    /// <summary>The position of the run and the snapshots it names, as a checkpoint (null checkpoint: the run is new).</summary>
    public async Task<PositionRead> ReadAsync()
    {
        var (snapshots, runId) = (store!, RunId);
        var position = await LoadAsync(snapshots, StateStore.PersistenceId(runId, StateStore.CoordinatorEntity), long.MaxValue).ConfigureAwait(false);
        if (position is null) return new PositionRead(null, new Dictionary<string, long>(), null);
        if (position is not S.RunPosition run)
            return new PositionRead(null, new Dictionary<string, long>(), $"run {runId}: the state store holds no position (found {position.GetType().Name})");
        var entities = new List<EntitySnapshot>();
        foreach (var stored in run.Stored)
        {
            if (await LoadAsync(snapshots, StateStore.PersistenceId(runId, stored.EntityId), stored.Round).ConfigureAwait(false) is not S.EntityState state || state.Round != stored.Round)
                return new PositionRead(null, new Dictionary<string, long>(), $"run {runId}: the state store's position of round {run.Round} names {stored.EntityId} at round {stored.Round}, " +
                                                                            "which the store does not hold; resume from a file checkpoint (akkagan train --resume)");
            entities.Add(state.Snapshot);
        }
        var rounds = run.Stored.ToDictionary(s => s.EntityId, s => s.Round);
        var checkpoint = new Checkpoint(new CheckpointMetadata(run.Round, run.Seed, run.SettingsJson, "cluster", DateTimeOffset.UtcNow, rounds), entities);
        return new PositionRead(checkpoint, rounds, null);
    }

    private static async Task<object?> LoadAsync(IActorRef store, string persistenceId, long round)
    {
        var criteria = round == long.MaxValue ? SnapshotSelectionCriteria.Latest : new SnapshotSelectionCriteria(round, DateTime.MaxValue, round);
        var answer = await store.Ask<ISnapshotResponse>(new LoadSnapshot(persistenceId, criteria, round), ReadTimeout, CancellationToken.None).ConfigureAwait(false);
        return answer switch
        {
            LoadSnapshotResult result => result.Snapshot?.Snapshot,
            LoadSnapshotFailed failed => throw new InvalidOperationException($"loading {persistenceId}: {failed.Cause.Message}", failed.Cause),
            _ => null,
        };
    }
}

/// <summary>
/// What <see cref="RunPositions.ReadAsync()"/> found: a checkpoint assembled from the store, or an error naming what is missing.
/// </summary>
internal sealed record PositionRead(Checkpoint? Checkpoint, IReadOnlyDictionary<string, long> Stored, string? Error);
