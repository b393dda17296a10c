using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using E = AkkaGan.Cluster.Protocol.EntityProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// Brings entities up (the start, a roll-back, a generator that moved): configures each from the run's settings, then
/// restores those with a target state, each from its own snapshot in the state store when the store holds it (no state
/// crosses the wire), else from the state pushed to it, and pushes the state to those the store failed. The coordinator
/// decides what a missing answer means.
/// </summary>
internal sealed class SetupActor : StepActor
{
    /// <summary>An entity to bring up: configured, then restored from its own snapshot of <paramref name="StoredRound"/> in the store, or from <paramref name="Snapshot"/> (neither: configured only).</summary>
    public sealed record Target(string EntityId, EntitySnapshot? Snapshot = null, long? StoredRound = null);

    /// <param name="Configured">Entity -> node, of those configured.</param>
    /// <param name="Restored">Those that hold their target state.</param>
    /// <param name="Loaded">Those that loaded it from the store; the others with a target state were sent theirs.</param>
    /// <param name="Refusals">What the entities refused, for the error that names them.</param>
    public sealed record Result(IReadOnlyDictionary<string, string> Configured, IReadOnlySet<string> Restored, IReadOnlyList<string> Loaded,
        IReadOnlyList<string> Pushed, IReadOnlyList<string> Refusals)
    {
        /// <summary>The "restored" fault's detail: who loaded its own snapshot from the store, who was sent its state.</summary>
        public string Describe(long round) => $"back to the checkpoint of round {round}: " +
            (Loaded.Count > 0 ? $"{string.Join(", ", Loaded)} loaded their own snapshots from the state store" : "none loaded its snapshot from the state store") +
            (Pushed.Count > 0 ? $"; {string.Join(", ", Pushed)} sent by the coordinator" : "");
    }

    private static Func<long, IActorRef, IEntityRequest> Restore(Target t, bool fromStore)
        => (id, me) => fromStore ? new E.RecoverFromStore(t.EntityId, id, t.StoredRound!.Value, me) : new E.RestoreSnapshot(t.EntityId, id, t.Snapshot!, me);

    /// <param name="required">Entities without which nothing is restored (empty: none): while one does not answer, every target is configured again (a shard with no live node yet), up to <paramref name="attempts"/> times.</param>
    public static Props Props(StepContext step, IReadOnlyList<Target> targets, TimeSpan configureTimeout, IReadOnlyCollection<string> required, int attempts)
        => Akka.Actor.Props.Create<SetupActor>(step, targets, configureTimeout, required, attempts);

    public SetupActor(StepContext step, IReadOnlyList<Target> targets, TimeSpan configureTimeout, IReadOnlyCollection<string> required, int attempts) : base(step)
    {
        var json = SettingsJson.Serialize(Settings);
        var refusals = new List<string>();
        void Refused(Answers answers) => refusals.AddRange(answers.Rejected.Select(r => $"{r.EntityId} refused {r.Command}: {r.Reason}"));
        var attempt = 0;
        void Configure() => Ask("configure", targets.Select(t => (Func<long, IActorRef, IEntityRequest>)((id, me) => new E.Configure(t.EntityId, id, json, me, Step.RunId))), targets.Count,
            timeout: configureTimeout, then: configured =>
            {
                Refused(configured);
                var nodes = configured.Of<E.Configured>().GroupBy(c => c.EntityId).ToDictionary(c => c.Key, c => c.First().Node);
                var absent = required.Where(e => !nodes.ContainsKey(e)).ToArray();
                if (absent.Length > 0 && ++attempt < attempts)
                {
                    Log.Warning("{0} not configured yet (attempt {1} of {2}); asking again", string.Join(", ", absent), attempt, attempts);
                    Configure();
                    return;
                }
                var restoring = targets.Where(t => nodes.ContainsKey(t.EntityId) && (t.Snapshot is not null || t.StoredRound is not null)).ToArray();
                if (restoring.Length == 0)
                {
                    Done(new Result(nodes, new HashSet<string>(), [], [], refusals));
                    return;
                }
                Ask("restore", restoring.Select(t => Restore(t, t.StoredRound is not null)), restoring.Length, timeout: Step.SetupTimeout, then: restored =>
                {
                    Refused(restored);
                    var done = restored.Of<E.Restored>().Select(r => r.EntityId).ToHashSet();
                    var loaded = restoring.Where(t => t.StoredRound is not null && done.Contains(t.EntityId)).Select(t => t.EntityId).ToList();
                    // The store lacked their snapshot (or their node has no store): push the state instead.
                    var push = restoring.Where(t => t.StoredRound is not null && t.Snapshot is not null && !done.Contains(t.EntityId)).ToArray();
                    var pushed = restoring.Where(t => t.StoredRound is null).Select(t => t.EntityId).Concat(push.Select(t => t.EntityId)).ToList();
                    if (push.Length == 0)
                    {
                        Done(new Result(nodes, done, loaded, pushed, refusals));
                        return;
                    }
                    Log.Warning("{0} not in the state store at the checkpoint's round: sending their state", string.Join(", ", push.Select(t => t.EntityId)));
                    Ask("restore (pushed)", push.Select(t => Restore(t, fromStore: false)), push.Length, timeout: Step.SetupTimeout, then: again =>
                    {
                        Refused(again);
                        done.UnionWith(again.Of<E.Restored>().Select(r => r.EntityId));
                        Done(new Result(nodes, done, loaded, pushed, refusals));
                    });
                });
            });
        Configure();
    }
}
