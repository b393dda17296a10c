using Akka.Event;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using E = AkkaGan.Cluster.Protocol.EntityProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>What <see cref="MemberRecovery"/> needs of the coordinator that owns it.</summary>
internal interface IRecoveryHost
{
    TrainingSettings Settings { get; }

    string RunId { get; }

    /// <summary>Where the entities answer (the coordinator).</summary>
    Akka.Actor.IActorRef Self { get; }

    /// <summary>The next request id.</summary>
    long NextRequest();

    /// <summary>Sends a request to its entity (whole or in chunks).</summary>
    void Send(IEntityRequest request);

    /// <summary>The last full checkpoint (null: none yet).</summary>
    Checkpoint? LastCheckpoint { get; }

    /// <summary>
    /// The round of the state the last checkpoint holds for <paramref name="entityId"/>: the checkpoint's round, or an
    /// older one for a member that was left out when it was taken (it keeps the state it had).
    /// </summary>
    long? StateRound(string entityId);

    /// <summary>The round of the entity's own snapshot in the state store that the last checkpoint holds (null: none).</summary>
    long? InStore(string entityId);

    /// <summary>The population (suspended members included).</summary>
    IReadOnlyList<int> Members { get; }

    /// <summary>Publishes a fault of <paramref name="entity"/>.</summary>
    void Fault(string entity, string kind, string detail);

    /// <summary>The member is back: it takes part from the next round.</summary>
    void Readmitted(int member, string node, string detail, EntitySnapshot? snapshot);
}

/// <summary>
/// Entities that moved or were lost. A member that missed a round (its node died, its entity lost its state) is left
/// out of rounds until restored; an entity whose shard moved (its node left) hands its state over first. Each
/// suspended member is configured again (its entity may have been re-homed on another node with no state, or its node
/// may still be down: the shard region holds the request until it lands), then loads its own snapshot from the state
/// store, or gets its state pushed (no store, a state the store never saw, a fresher handed-over state), and is
/// readmitted. Answers are matched by request id; repeated requests make late answers harmless.
/// </summary>
internal sealed class MemberRecovery(IRecoveryHost host, ILoggingAdapter log, TimeSpan stepTimeout, TimeSpan setupTimeout)
{
    /// <summary>How often suspended members are asked to recover.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(2);

    private readonly HashSet<int> _suspended = [];
    // The round each suspended member missed first.
    private readonly Dictionary<int, long> _missed = [];
    private readonly Dictionary<int, Recovery> _recovering = [];
    private readonly Dictionary<string, (long Round, EntitySnapshot Snapshot)> _handedOff = [];
    private DateTime _nextProbe = DateTime.MinValue;

    public IReadOnlySet<int> Suspended => _suspended;

    /// <summary>Leaves <paramref name="member"/>, which missed <paramref name="round"/>, out of rounds until it is restored.</summary>
    public void Suspend(int member, long round)
    {
        if (!_suspended.Add(member)) return;
        _missed[member] = round;
        _nextProbe = DateTime.MinValue;
        log.Warning("d-{0} missed round {1}: left out until it is restored from the last checkpoint", member, round);
        host.Fault(new DiscriminatorId(member).EntityId, "suspended", $"missed round {round}; {host.Members.Count(m => !_suspended.Contains(m))} of " +
            $"{host.Members.Count} discriminators take part (quorum {host.Settings.Quorum})");
    }

    /// <summary>An entity's state as it stopped for a hand-off: fresher than the last checkpoint, it is what the entity is restored from.</summary>
    public void HandedOff(E.HandedOff handed)
    {
        log.Info("{0} handed over its state of round {1} from {2}", handed.EntityId, handed.Round, handed.Node);
        _handedOff[handed.EntityId] = (handed.Round, handed.Snapshot);
    }

    /// <summary>The state <paramref name="entityId"/> handed over (and forgets it), or null.</summary>
    public (long Round, EntitySnapshot Snapshot)? TakeHandedOff(string entityId) => _handedOff.Remove(entityId, out var handed) ? handed : null;

    /// <summary>
    /// The state a checkpoint keeps for a member left out of it: the one it handed over when that is fresher than the
    /// last checkpoint's, else the last checkpoint's (null: neither), with its round.
    /// </summary>
    public (long Round, EntitySnapshot Snapshot)? Kept(string entityId)
    {
        if (Fresher(entityId) is { } handed) return handed;
        return host.LastCheckpoint?.Entities.FirstOrDefault(e => e.EntityId == entityId) is { } snapshot ? (host.StateRound(entityId) ?? 0, snapshot) : null;
    }

    /// <summary>A member left the population: nothing to recover.</summary>
    public void Forget(int member)
    {
        _suspended.Remove(member);
        _missed.Remove(member);
        _recovering.Remove(member);
    }

    /// <summary>
    /// Asks every suspended member to recover (at most every <see cref="ProbeInterval"/>): again while no answer came (a
    /// request to a node that is unreachable but not yet downed is lost), but never once its restore is on the way (a
    /// configure arriving after it would reset the member).
    /// </summary>
    public void Probe()
    {
        var now = DateTime.UtcNow;
        if (_suspended.Count == 0 || now < _nextProbe) return;
        _nextProbe = now + ProbeInterval;
        var json = SettingsJson.Serialize(host.Settings);
        foreach (var member in _suspended)
        {
            if (_recovering.TryGetValue(member, out var running)
                && now - running.Started < (running.Phase == Phase.Configuring ? stepTimeout : setupTimeout)) continue;
            var id = host.NextRequest();
            _recovering[member] = new Recovery(Phase.Configuring, now, id);
            host.Send(new E.Configure(new DiscriminatorId(member).EntityId, id, json, host.Self, host.RunId));
        }
    }

    /// <summary>Takes an answer of a recovery in progress; false for any other answer.</summary>
    public bool Handle(IEntityReply reply)
    {
        if (EntityIds.IsGenerator(reply.EntityId)) return false;
        var member = DiscriminatorId.Parse(reply.EntityId).Member;
        if (!_recovering.TryGetValue(member, out var recovery) || recovery.RequestId != reply.RequestId) return false;
        var entity = reply.EntityId;
        switch (reply)
        {
            case E.Configured configured:
                var (_, snapshot, _) = SourceOf(entity);
                if (snapshot is null) Readmit(member, configured.Node, null, null, null);
                else if (StoredRound(entity) is { } round) Request(member, Phase.Loading, id => new E.RecoverFromStore(entity, id, round, host.Self));
                else Request(member, Phase.Restoring, id => new E.RestoreSnapshot(entity, id, snapshot, host.Self));
                break;
            case E.Restored restored:
                var (source, state, stateRound) = SourceOf(entity);
                if (recovery.Phase == Phase.Loading)
                    source = $"its own snapshot of round {StoredRound(entity)} in the state store, which the checkpoint of round {host.LastCheckpoint?.Metadata.Round} holds";
                Readmit(member, restored.Node, source, state, stateRound);
                break;
            case E.Rejected rejected when recovery.Phase == Phase.Loading:
                log.Warning("{0} did not recover from the state store ({1}); sending its state", entity, rejected.Reason);
                if (SourceOf(entity).Snapshot is { } pushed) Request(member, Phase.Restoring, id => new E.RestoreSnapshot(entity, id, pushed, host.Self));
                else _recovering.Remove(member);
                break;
            case E.Rejected rejected:
                log.Warning("recovery of {0} failed: {1}", entity, rejected.Reason);
                _recovering.Remove(member);
                break;
        }
        return true;
    }

    private void Request(int member, Phase phase, Func<long, IEntityRequest> request)
    {
        var id = host.NextRequest();
        _recovering[member] = new Recovery(phase, DateTime.UtcNow, id);
        host.Send(request(id));
    }

    /// <summary>The state <paramref name="entityId"/> handed over, when it is not older than the state the last checkpoint holds for it.</summary>
    private (long Round, EntitySnapshot Snapshot)? Fresher(string entityId)
        => _handedOff.TryGetValue(entityId, out var handed) && handed.Round >= (host.StateRound(entityId) ?? 0) ? handed : null;

    /// <summary>
    /// What a member is restored from, named truthfully: the state it handed over (if not older than the last
    /// checkpoint's), else the last checkpoint's, which is older than the checkpoint when the member was left out of it.
    /// </summary>
    private (string Source, EntitySnapshot? Snapshot, long? StateRound) SourceOf(string entityId)
    {
        if (Fresher(entityId) is { } handed) return ($"the state it handed over at round {handed.Round}", handed.Snapshot, handed.Round);
        var checkpoint = host.LastCheckpoint;
        var round = checkpoint?.Metadata.Round;
        var stateRound = host.StateRound(entityId) ?? round;
        var source = stateRound == round ? $"the checkpoint of round {round}" : $"its state of round {stateRound}, kept in the checkpoint of round {round}";
        return (source, checkpoint?.Entities.FirstOrDefault(e => e.EntityId == entityId), stateRound);
    }

    /// <summary>The round of the member's own snapshot in the store holding the state it is restored to; null when it must be pushed (a fresher hand-over included).</summary>
    private long? StoredRound(string entityId)
        => Fresher(entityId) is null && host.InStore(entityId) is { } stored && stored == host.StateRound(entityId) ? stored : null;

    private void Readmit(int member, string node, string? source, EntitySnapshot? snapshot, long? stateRound)
    {
        _recovering.Remove(member);
        _handedOff.Remove(new DiscriminatorId(member).EntityId);
        _missed.Remove(member, out var missed);
        if (!_suspended.Remove(member)) return; // removed from the population meanwhile
        host.Readmitted(member, node, snapshot is null ? $"re-initialised on {node} (no checkpoint yet)" : $"restored from {source} on {node}{Lost(stateRound, missed)}", snapshot);
    }

    /// <summary>What the member lost: the rounds it trained after the state it got back and before the round it missed, and their optimizer steps.</summary>
    private string Lost(long? stateRound, long missed)
    {
        if (stateRound is not { } from || missed == 0) return "";
        var rounds = missed - 1 - from;
        return rounds > 0
            ? $"; what it learned in rounds {from + 1}..{missed - 1} is lost ({rounds} round(s), {rounds * host.Settings.NCritic} optimizer step(s))"
            : "; nothing it learned is lost";
    }

    /// <summary>Configuring: configure sent; Loading: recovering from its own snapshot in the store; Restoring: state pushed.</summary>
    private enum Phase { Configuring, Loading, Restoring }

    private sealed record Recovery(Phase Phase, DateTime Started, long RequestId);
}
