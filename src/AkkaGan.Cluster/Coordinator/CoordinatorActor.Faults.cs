using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// Faults: members that miss a round are suspended and restored (from a handed-over state or the last checkpoint), a
/// generator that fails a round is restored or the run rolls back, the divergence guard rolls back and lowers learning
/// rates. Every fault is published as a <see cref="FaultReport"/>.
/// </summary>
public sealed partial class CoordinatorActor
{
    /// <summary>Leaves a member out of rounds until it is restored (<see cref="ProbeSuspended"/>).</summary>
    private void Suspend(int member, long round)
    {
        if (!_suspended.Add(member)) return;
        _log.Warning("d-{0} missed round {1}: left out until it is restored from the last checkpoint", member, round);
        Fault(DiscriminatorCore.EntityIdOf(member), "suspended", $"missed round {round}; {Participants.Length} of {_members.Length} discriminators take part (quorum {Settings.Quorum})");
        _nextProbe = DateTime.MinValue;
    }

    /// <summary>
    /// Asks every suspended member to recover: configure it again (its entity may have been re-homed on another node
    /// with no state, or its node may still be down: the shard region buffers the command until it lands), then restore
    /// it from the last checkpoint. Its answers arrive while rounds go on (<see cref="Recovered"/>).
    /// </summary>
    private void ProbeSuspended()
    {
        var now = DateTime.UtcNow;
        if (_suspended.Count == 0 || now < _nextProbe) return;
        _nextProbe = now + ProbeInterval;
        var json = SettingsJson.Serialize(Settings);
        foreach (var member in _suspended)
        {
            // Ask again while no answer came (a command to a node that is unreachable but not yet downed is lost), but
            // never once the restore is on its way: a Configure that arrived after it would reset the member.
            if (_recovering.TryGetValue(member, out var running)
                && (running.Phase != RecoveryPhase.Configuring ? now - running.Started < SetupTimeout : now - running.Started < 2 * _stepTimeout)) continue;
            _recovering[member] = new Recovery(RecoveryPhase.Configuring, now);
            var settings = Settings.ForMember(member);
            _discriminators.Tell(new D.Configure(new DiscriminatorId(member), json, settings.Loss, settings.LrD, Self, _positions.RunId));
        }
    }

    /// <summary>
    /// A recovering member is configured: it recovers its own snapshot from the state store when the store holds the
    /// state the last checkpoint has for it, else the coordinator pushes that state (the first answer; repeats are ignored).
    /// </summary>
    private void Configured(D.Configured configured)
    {
        var member = configured.Discriminator.Member;
        if (_recovering[member].Phase != RecoveryPhase.Configuring) return; // a late answer to a repeated Configure
        var (_, snapshot) = RecoverySource(configured.Discriminator.EntityId);
        if (snapshot is null)
        {
            Readmit(member, configured.Node, null, null);
            return;
        }
        if (StoredRound(configured.Discriminator.EntityId) is { } round)
        {
            _recovering[member] = new Recovery(RecoveryPhase.Loading, DateTime.UtcNow);
            _discriminators.Tell(new D.RecoverFromStore(configured.Discriminator, round, Self));
            return;
        }
        Push(configured.Discriminator, snapshot);
    }

    /// <summary>Sends a recovering member its state from the last checkpoint (or from its hand-off).</summary>
    private void Push(DiscriminatorId id, EntitySnapshot snapshot)
    {
        _recovering[id.Member] = new Recovery(RecoveryPhase.Restoring, DateTime.UtcNow);
        _wire.Tell(_discriminators, new D.RestoreSnapshot(id, snapshot, Self), Self);
    }

    /// <summary>The store lacks the member's snapshot (or its node has no store): push the state instead.</summary>
    private void NotInStore(D.CommandRejected refused)
    {
        var member = refused.Discriminator.Member;
        if (_recovering[member].Phase != RecoveryPhase.Loading) return;
        _log.Warning("{0} did not recover from the state store ({1}); sending its state", refused.Discriminator, refused.Reason);
        if (RecoverySource(refused.Discriminator.EntityId).Snapshot is { } snapshot) Push(refused.Discriminator, snapshot);
        else _recovering.Remove(member);
    }

    private void Recovered(D.Restored restored)
    {
        var member = restored.Discriminator.Member;
        var phase = _recovering[member].Phase;
        if (phase == RecoveryPhase.Configuring) return;
        var (source, snapshot) = RecoverySource(restored.Discriminator.EntityId);
        if (phase == RecoveryPhase.Loading)
            source = $"its own snapshot of round {StoredRound(restored.Discriminator.EntityId)} in the state store (the checkpoint of round {_lastCheckpoint?.Metadata.Round} holds it)";
        Readmit(member, restored.Node, source, snapshot);
    }

    private void Readmit(int member, string node, string? source, EntitySnapshot? snapshot)
    {
        var id = new DiscriminatorId(member);
        _recovering.Remove(member);
        if (!_suspended.Remove(member)) return; // removed from the population meanwhile
        _handedOff.Remove(id.EntityId);
        if (snapshot is not null) _learningRates[member] = snapshot.LearningRate;
        _observer.Tell(new C.Placed(new Dictionary<string, string> { [id.EntityId] = node }));
        Fault(id.EntityId, "recovered", snapshot is null
            ? $"re-initialised on {node} (no checkpoint yet) and taking part from round {Round + 1}"
            : $"restored from {source} on {node}, taking part from round {Round + 1}");
        WakeIfIdle(null);
    }

    /// <summary>What a member is restored from: the state it handed over when its shard moved, else the last checkpoint's.</summary>
    private (string Source, EntitySnapshot? Snapshot) RecoverySource(string entityId)
    {
        var checkpointed = _lastCheckpoint?.Entities.FirstOrDefault(e => e.EntityId == entityId);
        if (_handedOff.TryGetValue(entityId, out var handed) && handed.Round >= (_lastCheckpoint?.Metadata.Round ?? 0))
            return ($"the state it handed over at round {handed.Round}", handed.Snapshot);
        return ($"the checkpoint of round {_lastCheckpoint?.Metadata.Round}", checkpointed);
    }

    /// <summary>
    /// The generator moved gracefully (its node left) and handed over its state of the last completed round: restore it
    /// on its new node and go on, nothing redone, provided no discriminator stepped on the unfinished round (its critic
    /// batches went out before the generator left). Otherwise (<see cref="RollBack"/>) every entity goes back.
    /// </summary>
    private void RecoverGenerator(string reason, bool criticStepsTaken)
    {
        void RollBack(string why)
        {
            _schedule.RoundFailed(why);
            Drive();
        }
        if (criticStepsTaken || !_handedOff.TryGetValue(GeneratorCore.EntityId, out var handed) || handed.Round != Round)
        {
            RollBack(reason);
            return;
        }
        _generator.Tell(new G.Configure(GeneratorId.Default, SettingsJson.Serialize(Settings), Self, _positions.RunId));
        Expect("recover generator: configure", 1, timeout: SetupTimeout, accept: a => a is G.Configured or G.CommandRejected, then: configured =>
        {
            if (!configured.OfType<G.Configured>().Any())
            {
                RollBack(reason);
                return;
            }
            _wire.Tell(_generator, new G.RestoreSnapshot(GeneratorId.Default, handed.Snapshot, Self), Self);
            Expect("recover generator: restore", 1, timeout: SetupTimeout, accept: a => a is G.Restored or G.CommandRejected, then: restored =>
            {
                if (restored.OfType<G.Restored>().FirstOrDefault() is not { } at)
                {
                    RollBack(reason);
                    return;
                }
                _handedOff.Remove(GeneratorCore.EntityId);
                _observer.Tell(new C.Placed(new Dictionary<string, string> { [GeneratorCore.EntityId] = at.Node }));
                Fault(GeneratorCore.EntityId, "recovered", $"{reason}: restored from the state it handed over at round {handed.Round} on {at.Node}; nothing redone");
                _schedule.RoundNotPlayed();
                Drive();
            });
        });
    }

    /// <summary>
    /// The schedule's roll-back (the generator lost its state or its node, or the divergence guard fired): every entity
    /// goes back to the last checkpoint (or to round 0 without one) and the rounds since are played again, as
    /// <c>akkagan train --resume</c> would, but without a restart.
    /// </summary>
    private void RollBack(string reason, int attempt = 1)
    {
        const int attempts = 10;
        var json = SettingsJson.Serialize(Settings);
        var participants = Participants;
        _generator.Tell(new G.Configure(GeneratorId.Default, json, Self, _positions.RunId));
        foreach (var i in participants)
        {
            var member = Settings.ForMember(i);
            _discriminators.Tell(new D.Configure(new DiscriminatorId(i), json, member.Loss, member.LrD, Self, _positions.RunId));
        }
        void Done()
        {
            _schedule.RolledBack();
            Drive();
        }
        // Asked again every step timeout while the generator's shard has no live node (until the split-brain resolver
        // downed the dead one); repeated answers are harmless: each Configure precedes the restore sent after the first.
        Expect("recover: configure", 1 + participants.Length,
            accept: a => a is G.Configured or D.Configured or G.CommandRejected or D.CommandRejected, then: configured =>
        {
            if (!configured.OfType<G.Configured>().Any())
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
            foreach (var i in participants.Where(i => !configured.OfType<D.Configured>().Any(c => c.Discriminator.Member == i))) Suspend(i, Round);
            if (_lastCheckpoint is not { } checkpoint) Done();
            else RestoreAll(checkpoint, Participants, Done);
        });
    }

    private void Fault(string entity, string kind, string detail)
    {
        _observer.Tell(new C.Faulted(new FaultReport(Round, entity, kind, detail)));
    }

    /// <summary>Configuring: Configure sent; Loading: recovering from its own snapshot in the store; Restoring: state pushed.</summary>
    private enum RecoveryPhase { Configuring, Loading, Restoring }

    private sealed record Recovery(RecoveryPhase Phase, DateTime Started);
}
