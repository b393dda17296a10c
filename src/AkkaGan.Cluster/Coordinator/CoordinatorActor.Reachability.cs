using Akka.Actor;
using Akka.Cluster;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// Reachability: the coordinator keeps where each entity was last placed and follows the cluster's reachability
/// events, so that a node the failure detector marks unreachable is reported at once, per entity, with what the run
/// waits for (long before the round in flight times out or the node is downed).
/// </summary>
public sealed partial class CoordinatorActor
{
    // Entity -> the node it was last placed on: a node the failure detector marks unreachable names its entities.
    private readonly Dictionary<string, string> _placement = [];

    /// <summary>Records where entities live and tells the observer.</summary>
    private void Place(IReadOnlyDictionary<string, string> nodes)
    {
        foreach (var (entity, node) in nodes) _placement[entity] = node;
        _observer.Tell(new C.Placed(nodes));
    }

    /// <summary>
    /// The failure detector marked a node unreachable (or reachable again): before any round times out, the run says who
    /// is missing, since when, and what it waits for.
    /// </summary>
    private void Reachability(Address node, bool reachable)
    {
        var address = node.ToString();
        var entities = _placement.Where(p => p.Value == address).Select(p => p.Key)
            .Where(e => EntityIds.IsGenerator(e) || _members.Contains(DiscriminatorId.Parse(e).Member)).Order(StringComparer.Ordinal);
        foreach (var entity in entities)
            Fault(entity, reachable ? "reachable" : "unreachable", reachable ? $"its node {address} is reachable again" : $"its node {address} is unreachable since " +
                $"{DateTime.UtcNow:HH:mm:ss} UTC; {WaitsFor(entity)}");
    }

    /// <summary>What the run waits for while <paramref name="entity"/>'s node is unreachable.</summary>
    private string WaitsFor(string entity)
    {
        var step = $"{_stepTimeout.TotalSeconds:0.#} s (step-timeout)";
        var downing = Context.System.Settings.Config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after", TimeSpan.FromSeconds(20), allowInfinite: false);
        var downed = $"the split-brain resolver downs the node after {downing.TotalSeconds:0.#} s of stable membership and sharding starts the entity on another node";
        if (EntityIds.IsGenerator(entity))
            return $"the round in flight waits for it up to {step}, then every entity goes back to the last checkpoint once the generator is up again ({downed})";
        if (_recovery.Suspended.Contains(DiscriminatorId.Parse(entity).Member)) return "it is left out already; the others train on";
        return Settings.Recovery == RecoveryMode.Exact
            ? $"the round in flight waits for it up to {step}, then the run goes back to the last checkpoint and replays once it is up again ({downed}; recovery = exact)"
            : $"the round in flight waits for it up to {step}, then the others train on without it until it is restored ({downed})";
    }

    /// <summary>Subscribes to the cluster's unreachable/reachable member events (only when the actor system is a cluster).</summary>
    protected override void PreStart()
    {
        // Only inside a cluster (the coordinator's own specs run it on a local actor system).
        if (((ExtendedActorSystem)Context.System).Provider is Akka.Cluster.ClusterActorRefProvider)
            Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
                typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.ReachableMember));
        base.PreStart();
    }
}
