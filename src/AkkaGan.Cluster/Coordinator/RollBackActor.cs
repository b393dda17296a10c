using Akka.Actor;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// The schedule's roll-back (a lost generator, or the divergence guard): every entity taking part is configured again
/// and restored to the last checkpoint (or round 0 without one), each from its own snapshot in the state store when it
/// holds it, else pushed (a <see cref="SetupActor"/> child does that); the rounds since are played again, as
/// <c>--resume</c> would, without a restart. While the generator's shard has no live node (until the split-brain
/// resolver downed the dead one) it is asked again every step timeout, up to <see cref="Attempts"/> times; with
/// <c>recovery = exact</c> so is every discriminator's, since the replay is exact only with all of them. The result
/// says what the coordinator does next: fail the run, or suspend the members that did not answer and go on.
/// </summary>
internal sealed class RollBackActor : ReceiveActor
{
    public const int Attempts = 10;

    /// <param name="Error">Why the run cannot go on (null: it goes on).</param>
    /// <param name="Unanswered">Members that were not configured again: suspended.</param>
    /// <param name="LearningRates">The restored members' learning rates, as the checkpoint holds them.</param>
    /// <param name="Restored">The "restored" fault's detail when an entity was asked to load its snapshot from the store.</param>
    /// <param name="Placed">Entity -> node, of those configured again (a lost one is on another node now).</param>
    public sealed record Result(string? Error, IReadOnlyList<int> Unanswered, IReadOnlyDictionary<int, double> LearningRates, string? Restored,
        IReadOnlyDictionary<string, string> Placed);

    /// <param name="storedRounds">Each participant's round in the state store, when the run has a checkpoint and the store holds it.</param>
    /// <remarks>
    /// A member added after the checkpoint (a live <c>population add</c>) is not in it: like the reference engine, the
    /// roll-back leaves it as it is (it keeps its state and trains on from there).
    /// </remarks>
    public static Props Props(StepContext step, string reason, Checkpoint? checkpoint, IReadOnlyList<string> participants, Func<string, long?> storedRounds)
    {
        IReadOnlyList<SetupActor.Target> targets =
        [
            .. participants.Where(e => checkpoint is null || checkpoint.Entities.Any(x => x.EntityId == e))
                .Select(e => new SetupActor.Target(e, checkpoint?.Entity(e), checkpoint is null ? null : storedRounds(e))),
        ];
        return Akka.Actor.Props.Create<RollBackActor>(step, reason, checkpoint?.Metadata.Round ?? 0L, targets);
    }

    public RollBackActor(StepContext step, string reason, long checkpointRound, IReadOnlyList<SetupActor.Target> targets)
    {
        var generator = GeneratorId.Default.EntityId;
        var exact = step.Settings.Recovery == RecoveryMode.Exact;
        Context.ActorOf(SetupActor.Props(step, targets, step.StepTimeout, exact ? [.. targets.Select(t => t.EntityId)] : [generator], Attempts));
        Receive<SetupActor.Result>(r =>
        {
            Context.Parent.Tell(Judge(r, reason, checkpointRound, targets, generator, exact));
            Context.Stop(Self);
        });
    }

    private static Result Judge(SetupActor.Result r, string reason, long checkpointRound, IReadOnlyList<SetupActor.Target> targets, string generator, bool exact)
    {
        if (!r.Configured.ContainsKey(generator))
            return new Result($"{reason}; the generator could not be recovered after {Attempts} attempts", [], new Dictionary<int, double>(), null, r.Configured);
        var unrestored = targets.Where(t => t.Snapshot is not null && r.Configured.ContainsKey(t.EntityId) && !r.Restored.Contains(t.EntityId)).Select(t => t.EntityId).ToArray();
        if (unrestored.Length > 0)
            return new Result($"recover: restore failed: {string.Join(", ", unrestored)} did not take the checkpoint's state", [], new Dictionary<int, double>(), null, r.Configured);
        var unanswered = targets.Where(t => !r.Configured.ContainsKey(t.EntityId)).Select(t => DiscriminatorId.Parse(t.EntityId).Member).ToArray();
        if (exact && unanswered.Length > 0)
            return new Result($"{reason}; exact recovery: {string.Join(", ", unanswered.Select(m => new DiscriminatorId(m).EntityId))} could not be configured " +
                $"again after {Attempts} attempts (no live node for its shard); the run ends, its last checkpoint is round {checkpointRound}: continue it " +
                "with --resume once the nodes are back (or use recovery = fast, which trains on without the member)", [], new Dictionary<int, double>(), null, r.Configured);
        var rates = targets.Where(t => r.Restored.Contains(t.EntityId) && !EntityIds.IsGenerator(t.EntityId))
            .ToDictionary(t => DiscriminatorId.Parse(t.EntityId).Member, t => t.Snapshot!.LearningRate);
        return new Result(null, unanswered, rates, targets.Any(t => t.StoredRound is not null) ? r.Describe(checkpointRound) : null, r.Configured);
    }
}
