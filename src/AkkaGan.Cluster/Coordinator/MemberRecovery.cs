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

    /// <summary>What the member is restored from (its handed-over state, else the last checkpoint's; null snapshot: none yet).</summary>
    (string Source, EntitySnapshot? Snapshot) SourceOf(string entityId);

    /// <summary>The round of the member's own snapshot in the state store that it is restored to (null: push the state).</summary>
    long? StoredRound(string entityId);

    /// <summary>The member is back: it takes part from the next round.</summary>
    void Readmitted(int member, string node, string detail, EntitySnapshot? snapshot);
}

/// <summary>
/// Members that missed a round (their node died, their entity lost its state): left out of rounds until restored. Each
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
    private readonly Dictionary<int, Recovery> _recovering = [];
    private DateTime _nextProbe = DateTime.MinValue;

    public IReadOnlySet<int> Suspended => _suspended;

    /// <summary>Leaves <paramref name="member"/> out of rounds until it is restored; false when it already was.</summary>
    public bool Suspend(int member)
    {
        if (!_suspended.Add(member)) return false;
        _nextProbe = DateTime.MinValue;
        return true;
    }

    /// <summary>A member left the population: nothing to recover.</summary>
    public void Forget(int member)
    {
        _suspended.Remove(member);
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
                && now - running.Started < (running.Phase == Phase.Configuring ? 2 * stepTimeout : setupTimeout)) continue;
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
                var (_, snapshot) = host.SourceOf(entity);
                if (snapshot is null) Readmit(member, configured.Node, null, null);
                else if (host.StoredRound(entity) is { } round) Request(member, Phase.Loading, id => new E.RecoverFromStore(entity, id, round, host.Self));
                else Request(member, Phase.Restoring, id => new E.RestoreSnapshot(entity, id, snapshot, host.Self));
                break;
            case E.Restored restored:
                var (source, state) = host.SourceOf(entity);
                if (recovery.Phase == Phase.Loading)
                    source = $"its own snapshot of round {host.StoredRound(entity)} in the state store ({source} holds it)";
                Readmit(member, restored.Node, source, state);
                break;
            case E.Rejected rejected when recovery.Phase == Phase.Loading:
                log.Warning("{0} did not recover from the state store ({1}); sending its state", entity, rejected.Reason);
                if (host.SourceOf(entity).Snapshot is { } pushed) Request(member, Phase.Restoring, id => new E.RestoreSnapshot(entity, id, pushed, host.Self));
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

    private void Readmit(int member, string node, string? source, EntitySnapshot? snapshot)
    {
        _recovering.Remove(member);
        if (!_suspended.Remove(member)) return; // removed from the population meanwhile
        host.Readmitted(member, node, snapshot is null ? $"re-initialised on {node} (no checkpoint yet)" : $"restored from {source} on {node}", snapshot);
    }

    /// <summary>Configuring: configure sent; Loading: recovering from its own snapshot in the store; Restoring: state pushed.</summary>
    private enum Phase { Configuring, Loading, Restoring }

    private sealed record Recovery(Phase Phase, DateTime Started, long RequestId);
}
