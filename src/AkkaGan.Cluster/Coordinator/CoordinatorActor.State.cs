using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;
using S = AkkaGan.Cluster.Protocol.StateProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// The state store (DESIGN.md section 6): every entity saves its state of a checkpoint round under
/// <c>&lt;run-id&gt;/&lt;entity&gt;</c> before it answers the checkpoint, the coordinator saves its position under
/// <c>&lt;run-id&gt;/coordinator</c>, recoveries let entities load their own snapshot (the state is pushed only when the
/// store lacks it), and a coordinator started again under the same run id continues from the stored position.
/// </summary>
public sealed partial class CoordinatorActor : IWithUnboundedStash
{
    // The node's snapshot store (null: none), the run's id in it ("": nothing stored) and, for every entity, the round
    // of its snapshot in the store that the last checkpoint holds.
    private readonly IActorRef? _stateStore;
    private string _runId = "";
    private readonly Dictionary<string, long> _stored = [];
    // Positions sent to the store and not yet confirmed (round -> the entity rounds they name): what pruning keeps.
    private readonly Dictionary<long, S.StoredRound[]> _savingPositions = [];

    /// <summary>How long one read of the store may take at start (a remote PostgreSQL included).</summary>
    private static readonly TimeSpan StoreReadTimeout = TimeSpan.FromSeconds(30);

    private bool Stores => _stateStore is not null && _runId.Length > 0;

    public IStash Stash { get; set; } = null!;

    /// <summary>
    /// The round of the entity's own snapshot in the store holding the state it is restored to, or null when the
    /// state must be pushed (no store, a state the store never saw, or a fresher handed-over state).
    /// </summary>
    private long? StoredRound(string entityId)
    {
        if (!Stores || !_stored.TryGetValue(entityId, out var round)) return null;
        if (_handedOff.TryGetValue(entityId, out var handed) && handed.Round >= (_lastCheckpoint?.Metadata.Round ?? 0)) return null;
        return round;
    }

    /// <summary>A checkpoint completed: <paramref name="saved"/> entities have their state of this round in the store; save the position.</summary>
    private void Stored(IEnumerable<string> saved)
    {
        if (!Stores) return;
        foreach (var entity in saved) _stored[entity] = _round;
        var position = new S.RunPosition(_runId, _round, SettingsJson.Serialize(_settings), _settings.Seed,
            [.. _stored.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new S.StoredRound(e.Key, e.Value))]);
        _savingPositions[_round] = position.Stored;
        _stateStore!.Tell(new SaveSnapshot(new SnapshotMetadata(StateStore.PersistenceId(_runId, StateStore.CoordinatorEntity), _round, DateTime.UtcNow), position), Self);
    }

    /// <summary>
    /// A position is stored: every older snapshot is deleted (the entities' below the rounds the position names, the
    /// older positions), so the store holds one checkpoint's state, not one per checkpoint (a DCGAN's is ~22 MiB).
    /// </summary>
    private void PositionSaved(ISnapshotResponse response)
    {
        switch (response)
        {
            case SaveSnapshotFailure failed:
                _savingPositions.Remove(failed.Metadata.SequenceNr);
                _log.Warning("the position of round {0} was not saved to the state store: {1}", failed.Metadata.SequenceNr, failed.Cause.Message);
                break;
            case SaveSnapshotSuccess saved when _savingPositions.Remove(saved.Metadata.SequenceNr, out var kept):
                foreach (var entity in kept)
                    _stateStore!.Tell(new DeleteSnapshots(StateStore.PersistenceId(_runId, entity.EntityId), new SnapshotSelectionCriteria(entity.Round - 1)), Self);
                _stateStore!.Tell(new DeleteSnapshots(saved.Metadata.PersistenceId, new SnapshotSelectionCriteria(saved.Metadata.SequenceNr - 1)), Self);
                break;
            case DeleteSnapshotsFailure failed:
                _log.Warning("old snapshots of {0} were not deleted from the state store: {1}", failed.Criteria, failed.Cause.Message);
                break;
        }
    }

    /// <summary>
    /// Restores the generator and <paramref name="members"/> to <paramref name="checkpoint"/>: each entity whose state the
    /// store holds loads its own snapshot, the others get theirs pushed (as do those the store fails), then <paramref name="then"/>.
    /// A member that answers neither fails the run, as before there was a store.
    /// </summary>
    private void RestoreAll(Checkpoint checkpoint, int[] members, Action then)
    {
        long? InStore(string entity) => Stores && _stored.TryGetValue(entity, out var round) ? round : null;
        foreach (var i in members) _learningRates[i] = checkpoint.Entity(DiscriminatorCore.EntityIdOf(i)).LearningRate;
        var loading = new HashSet<string>(StringComparer.Ordinal);
        void Restore(string entity, bool push)
        {
            var id = entity == GeneratorCore.EntityId ? (int?)null : DiscriminatorId.Parse(entity).Member;
            if (!push && InStore(entity) is { } round)
            {
                loading.Add(entity);
                if (id is { } m) _discriminators.Tell(new D.RecoverFromStore(new DiscriminatorId(m), round, Self));
                else _generator.Tell(new G.RecoverFromStore(GeneratorId.Default, round, Self));
            }
            else if (id is { } m) _wire.Tell(_discriminators, new D.RestoreSnapshot(new DiscriminatorId(m), checkpoint.Entity(entity), Self), Self);
            else _wire.Tell(_generator, new G.RestoreSnapshot(GeneratorId.Default, checkpoint.Entity(entity), Self), Self);
        }
        string[] entities = [GeneratorCore.EntityId, .. members.Select(DiscriminatorCore.EntityIdOf)];
        foreach (var entity in entities) Restore(entity, push: false);
        bool RestoreAnswer(object a) => a is G.Restored or D.Restored or G.CommandRejected or D.CommandRejected;
        Expect("recover: restore", entities.Length, all: loading.Count == 0, timeout: SetupTimeout, accept: RestoreAnswer, then: answers =>
        {
            if (loading.Count == 0)
            {
                then();
                return;
            }
            var restored = answers.Select(a => a switch { G.Restored => GeneratorCore.EntityId, D.Restored d => d.Discriminator.EntityId, _ => null })
                .OfType<string>().ToHashSet(StringComparer.Ordinal);
            var missing = entities.Where(e => !restored.Contains(e)).ToArray();
            var unrecoverable = missing.Where(e => !loading.Contains(e)).ToArray();
            if (unrecoverable.Length > 0)
            {
                Finish(false, $"recover: restore failed: {string.Join(", ", unrecoverable)} did not take the checkpoint's state");
                return;
            }
            var loaded = entities.Where(e => loading.Contains(e) && restored.Contains(e)).ToArray();
            var pushed = entities.Where(e => !loading.Contains(e) || missing.Contains(e)).ToArray();
            Fault(GeneratorCore.EntityId, "restored", $"back to the checkpoint of round {checkpoint.Metadata.Round}: " +
                (loaded.Length > 0 ? $"{string.Join(", ", loaded)} loaded their own snapshots from the state store" : "none loaded its snapshot from the state store") +
                (pushed.Length > 0 ? $"; {string.Join(", ", pushed)} sent by the coordinator" : ""));
            if (missing.Length == 0)
            {
                then();
                return;
            }
            _log.Warning("{0} not in the state store at the checkpoint's round: sending their state", string.Join(", ", missing));
            foreach (var entity in missing) Restore(entity, push: true);
            Expect("recover: restore (pushed)", missing.Length, all: true, timeout: SetupTimeout, accept: RestoreAnswer, then: _ => then());
        });
    }

    /// <summary>
    /// A start without a checkpoint under a run id the store already knows (a coordinator started again): read the
    /// stored position and every entity's snapshot it names, and start as if resuming from that checkpoint. Runs on a
    /// task; the answer (<see cref="PositionRead"/>) comes back as a message and control requests wait in the stash.
    /// </summary>
    private void ReadPosition(C.StartTraining start)
    {
        var store = _stateStore!;
        var runId = _runId;
        Become(() =>
        {
            Receive<PositionRead>(read =>
            {
                Stash.UnstashAll();
                if (read.Error is not null)
                {
                    Become(Running);
                    _observer = start.Observer;
                    Finish(false, read.Error);
                    return;
                }
                if (read.Checkpoint is null)
                {
                    Begin(start, null);
                    return;
                }
                _log.Info("run {0}: continuing from the state store's position of round {1}", runId, read.Checkpoint.Metadata.Round);
                Begin(start with { SettingsJson = read.Checkpoint.Metadata.SettingsJson, Resume = read.Checkpoint }, read.Stored);
            });
            ReceiveAny(_ => Stash.Stash());
        });
        LoadCheckpointAsync(store, runId).PipeTo(Self, failure: e => new PositionRead(null, [], $"reading run {runId} from the state store failed: {e.Message}"));
    }

    /// <summary>The position of <paramref name="runId"/> and the snapshots it names, as a checkpoint (null checkpoint: the run is new).</summary>
    internal static async Task<PositionRead> LoadCheckpointAsync(IActorRef store, string runId)
    {
        var position = await LoadAsync(store, StateStore.PersistenceId(runId, StateStore.CoordinatorEntity), long.MaxValue).ConfigureAwait(false);
        if (position is null) return new PositionRead(null, [], null);
        if (position is not S.RunPosition run) return new PositionRead(null, [], $"run {runId}: the state store holds no position (found {position.GetType().Name})");
        var entities = new List<EntitySnapshot>();
        foreach (var stored in run.Stored)
        {
            if (await LoadAsync(store, StateStore.PersistenceId(runId, stored.EntityId), stored.Round).ConfigureAwait(false) is not S.EntityState state || state.Round != stored.Round)
                return new PositionRead(null, [], $"run {runId}: the state store's position of round {run.Round} names {stored.EntityId} at round {stored.Round}, " +
                                                  "which the store does not hold; resume from a file checkpoint (akkagan train --resume)");
            entities.Add(state.Snapshot);
        }
        var checkpoint = new Checkpoint(new CheckpointMetadata(run.Round, run.Seed, run.SettingsJson, "cluster", DateTimeOffset.UtcNow), entities);
        return new PositionRead(checkpoint, run.Stored.ToDictionary(s => s.EntityId, s => s.Round), null);
    }

    private static async Task<object?> LoadAsync(IActorRef store, string persistenceId, long round)
    {
        var criteria = round == long.MaxValue ? SnapshotSelectionCriteria.Latest : new SnapshotSelectionCriteria(round, DateTime.MaxValue, round);
        var answer = await store.Ask<ISnapshotResponse>(new LoadSnapshot(persistenceId, criteria, round), StoreReadTimeout, CancellationToken.None).ConfigureAwait(false);
        return answer switch
        {
            LoadSnapshotResult result => result.Snapshot?.Snapshot,
            LoadSnapshotFailed failed => throw new InvalidOperationException($"loading {persistenceId}: {failed.Cause.Message}", failed.Cause),
            _ => null,
        };
    }

    /// <summary>What <see cref="LoadCheckpointAsync"/> found: a checkpoint assembled from the store, or an error naming what is missing.</summary>
    internal sealed record PositionRead(Checkpoint? Checkpoint, Dictionary<string, long> Stored, string? Error);
}
