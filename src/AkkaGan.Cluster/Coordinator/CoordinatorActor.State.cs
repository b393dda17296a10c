using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// The state store (DESIGN.md section 6; the store's side is <see cref="RunPositions"/>): recoveries let entities load
/// their own snapshot (the state is pushed only when the store lacks it), and a coordinator started again under the
/// same run id continues from the stored position.
/// </summary>
public sealed partial class CoordinatorActor : IWithUnboundedStash
{
    private readonly RunPositions _positions;

    public IStash Stash { get; set; } = null!;

    /// <summary>
    /// The round of the entity's own snapshot in the store holding the state it is restored to, or null when the
    /// state must be pushed (no store, a state the store never saw, or a fresher handed-over state).
    /// </summary>
    private long? StoredRound(string entityId)
    {
        if (_handedOff.TryGetValue(entityId, out var handed) && handed.Round >= (_lastCheckpoint?.Metadata.Round ?? 0)) return null;
        return _positions.RoundOf(entityId);
    }

    /// <summary>
    /// Restores the generator and <paramref name="members"/> to <paramref name="checkpoint"/>: each entity whose state the
    /// store holds loads its own snapshot, the others get theirs pushed (as do those the store fails), then <paramref name="then"/>.
    /// A member that answers neither fails the run, as before there was a store.
    /// </summary>
    private void RestoreAll(Checkpoint checkpoint, int[] members, Action then)
    {
        foreach (var i in members) _learningRates[i] = checkpoint.Entity(DiscriminatorCore.EntityIdOf(i)).LearningRate;
        var loading = new HashSet<string>(StringComparer.Ordinal);
        void Restore(string entity, bool push)
        {
            var id = entity == GeneratorCore.EntityId ? (int?)null : DiscriminatorId.Parse(entity).Member;
            if (!push && _positions.RoundOf(entity) is { } round)
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
                Fail($"recover: restore failed: {string.Join(", ", unrecoverable)} did not take the checkpoint's state");
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
        var runId = _positions.RunId;
        Become(() =>
        {
            Receive<PositionRead>(read =>
            {
                Stash.UnstashAll();
                if (read.Error is not null)
                {
                    Become(Running);
                    _observer = start.Observer;
                    Fail(read.Error);
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
        _positions.ReadAsync().PipeTo(Self, failure: e => new PositionRead(null, new Dictionary<string, long>(), $"reading run {runId} from the state store failed: {e.Message}"));
    }
}
