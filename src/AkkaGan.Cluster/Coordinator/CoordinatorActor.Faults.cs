using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;
using E = AkkaGan.Cluster.Protocol.EntityProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// Faults: members that miss a round are suspended and restored (<see cref="MemberRecovery"/>), a generator that fails
/// a round is restored from its handed-over state or the run rolls back, roll-backs restore every entity from its own
/// snapshot in the state store or from the last checkpoint, and a coordinator started again under the same run id
/// continues from the store's position. Every fault is published as a <see cref="FaultReport"/>.
/// </summary>
public sealed partial class CoordinatorActor
{
    private void Suspend(int member, long round)
    {
        if (!_recovery.Suspend(member)) return;
        _log.Warning("d-{0} missed round {1}: left out until it is restored from the last checkpoint", member, round);
        Fault(new DiscriminatorId(member).EntityId, "suspended",
            $"missed round {round}; {Participants.Length} of {_members.Length} discriminators take part (quorum {Settings.Quorum})");
    }

    public void Readmitted(int member, string node, string detail, EntitySnapshot? snapshot)
    {
        var entity = new DiscriminatorId(member).EntityId;
        _handedOff.Remove(entity);
        if (snapshot is not null) _learningRates[member] = snapshot.LearningRate;
        _observer.Tell(new C.Placed(new Dictionary<string, string> { [entity] = node }));
        Fault(entity, "recovered", $"{detail}, taking part from round {Round + 1}");
        WakeIfIdle(null);
    }

    /// <summary>What an entity is restored from: the state it handed over when its shard moved (if not older than the last checkpoint), else the last checkpoint's.</summary>
    public (string Source, EntitySnapshot? Snapshot) SourceOf(string entityId)
    {
        if (_handedOff.TryGetValue(entityId, out var handed) && handed.Round >= (_lastCheckpoint?.Metadata.Round ?? 0))
            return ($"the state it handed over at round {handed.Round}", handed.Snapshot);
        return ($"the checkpoint of round {_lastCheckpoint?.Metadata.Round}", _lastCheckpoint?.Entities.FirstOrDefault(e => e.EntityId == entityId));
    }

    /// <summary>The round of the entity's own snapshot in the store holding the state it is restored to; null when it must be pushed (a fresher hand-over included).</summary>
    public long? StoredRound(string entityId)
        => _handedOff.TryGetValue(entityId, out var handed) && handed.Round >= (_lastCheckpoint?.Metadata.Round ?? 0) ? null : _positions.RoundOf(entityId);

    /// <summary>
    /// The generator did not complete a round. When it moved gracefully (its node left) and handed over its state of the
    /// last completed round, and no discriminator stepped on the unfinished round, it is restored on its new node and
    /// nothing is redone; otherwise the schedule rolls every entity back.
    /// </summary>
    private void RecoverGenerator(string reason, bool criticStepsTaken)
    {
        void RollBackInstead()
        {
            _schedule.RoundFailed(reason);
            Drive();
        }
        var entity = GeneratorId.Default.EntityId;
        if (criticStepsTaken || !_handedOff.TryGetValue(entity, out var handed) || handed.Round != Round)
        {
            RollBackInstead();
            return;
        }
        var configure = NextRequest();
        Send(new E.Configure(entity, configure, SettingsJson.Serialize(Settings), Self, RunId));
        Expect("recover generator: configure", configure, 1, timeout: SetupTimeout, then: configured =>
        {
            if (!configured.OfType<E.Configured>().Any())
            {
                RollBackInstead();
                return;
            }
            var restore = NextRequest();
            Send(new E.RestoreSnapshot(entity, restore, handed.Snapshot, Self));
            Expect("recover generator: restore", restore, 1, timeout: SetupTimeout, then: restored =>
            {
                if (restored.OfType<E.Restored>().FirstOrDefault() is not { } at)
                {
                    RollBackInstead();
                    return;
                }
                _handedOff.Remove(entity);
                _observer.Tell(new C.Placed(new Dictionary<string, string> { [entity] = at.Node }));
                Fault(entity, "recovered", $"{reason}: restored from the state it handed over at round {handed.Round} on {at.Node}; nothing redone");
                _schedule.RoundNotPlayed();
                Drive();
            });
        });
    }

    /// <summary>
    /// The schedule's roll-back (a lost generator, or the divergence guard): every entity is configured again (asked
    /// again every step timeout while the generator's shard has no live node, up to 10 times) and restored to the last
    /// checkpoint (or round 0 without one); the rounds since are played again, as <c>--resume</c> would, without a restart.
    /// </summary>
    private void RollBack(string reason, int attempt = 1)
    {
        const int attempts = 10;
        var participants = Participants;
        var entities = Entities(participants);
        var id = NextRequest();
        foreach (var entity in entities) Send(new E.Configure(entity, id, SettingsJson.Serialize(Settings), Self, RunId));
        Expect("recover: configure", id, entities.Length, then: answers =>
        {
            var configured = answers.OfType<E.Configured>().Select(c => c.EntityId).ToHashSet();
            if (!configured.Contains(GeneratorId.Default.EntityId))
            {
                if (attempt >= attempts)
                {
                    Fail($"{reason}; the generator could not be recovered after {attempts} attempts");
                    return;
                }
                _log.Warning("generator not recovered yet (attempt {0} of {1}); retrying", attempt, attempts);
                RollBack(reason, attempt + 1);
                return;
            }
            foreach (var i in participants.Where(i => !configured.Contains(new DiscriminatorId(i).EntityId))) Suspend(i, Round);
            void Done()
            {
                _schedule.RolledBack();
                Drive();
            }
            if (_lastCheckpoint is { } checkpoint) RestoreAll(checkpoint, Entities(Participants), Done);
            else Done();
        });
    }

    /// <summary>
    /// Restores <paramref name="entities"/> to <paramref name="checkpoint"/>: each whose state the store holds loads its own
    /// snapshot, the others get theirs pushed (as do those the store fails), then <paramref name="then"/>. An entity that
    /// takes neither fails the run.
    /// </summary>
    private void RestoreAll(Checkpoint checkpoint, string[] entities, Action then)
    {
        foreach (var entity in entities.Where(e => !EntityIds.IsGenerator(e))) _learningRates[DiscriminatorId.Parse(entity).Member] = checkpoint.Entity(entity).LearningRate;
        var loading = entities.Where(e => _positions.RoundOf(e) is not null).ToHashSet();
        var id = NextRequest();
        foreach (var entity in entities)
            Send(_positions.RoundOf(entity) is { } round ? new E.RecoverFromStore(entity, id, round, Self) : new E.RestoreSnapshot(entity, id, checkpoint.Entity(entity), Self));
        Expect("recover: restore", id, entities.Length, all: loading.Count == 0, timeout: SetupTimeout, then: answers =>
        {
            if (loading.Count == 0)
            {
                then();
                return;
            }
            var restored = answers.OfType<E.Restored>().Select(a => a.EntityId).ToHashSet();
            var missing = entities.Where(e => !restored.Contains(e)).ToArray();
            if (missing.Where(e => !loading.Contains(e)).ToArray() is { Length: > 0 } unrecoverable)
            {
                Fail($"recover: restore failed: {string.Join(", ", unrecoverable)} did not take the checkpoint's state");
                return;
            }
            var loaded = entities.Where(e => loading.Contains(e) && restored.Contains(e)).ToArray();
            var pushed = entities.Where(e => !loading.Contains(e) || missing.Contains(e)).ToArray();
            Fault(GeneratorId.Default.EntityId, "restored", $"back to the checkpoint of round {checkpoint.Metadata.Round}: " +
                (loaded.Length > 0 ? $"{string.Join(", ", loaded)} loaded their own snapshots from the state store" : "none loaded its snapshot from the state store") +
                (pushed.Length > 0 ? $"; {string.Join(", ", pushed)} sent by the coordinator" : ""));
            if (missing.Length == 0)
            {
                then();
                return;
            }
            _log.Warning("{0} not in the state store at the checkpoint's round: sending their state", string.Join(", ", missing));
            var push = NextRequest();
            foreach (var entity in missing) Send(new E.RestoreSnapshot(entity, push, checkpoint.Entity(entity), Self));
            Expect("recover: restore (pushed)", push, missing.Length, all: true, timeout: SetupTimeout, then: _ => then());
        });
    }

    /// <summary>
    /// A start without a checkpoint under a run id the store already knows (a coordinator started again): read the
    /// stored position and every entity's snapshot it names, and start as if resuming from that checkpoint. Runs on a
    /// task; control requests wait in the stash meanwhile.
    /// </summary>
    private void ReadPosition(C.StartTraining start)
    {
        Become(() =>
        {
            Receive<PositionRead>(read =>
            {
                Stash.UnstashAll();
                if (read.Error is not null)
                {
                    Become(Running);
                    Fail(read.Error);
                }
                else if (read.Checkpoint is null) Begin(start, null);
                else
                {
                    _log.Info("run {0}: continuing from the state store's position of round {1}", RunId, read.Checkpoint.Metadata.Round);
                    Begin(start with { SettingsJson = read.Checkpoint.Metadata.SettingsJson, Resume = read.Checkpoint }, read.Stored);
                }
            });
            ReceiveAny(_ => Stash.Stash());
        });
        var runId = RunId;
        _positions.ReadAsync().PipeTo(Self, failure: e => new PositionRead(null, new Dictionary<string, long>(), $"reading run {runId} from the state store failed: {e.Message}"));
    }
}
