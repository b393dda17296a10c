using Akka.Actor;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// The schedule's roll-back (a lost generator, or the divergence guard): every entity taking part is configured again
/// and restored to the last checkpoint (or round 0 without one), each from its own snapshot in the state store when it
/// holds it, else pushed (a <see cref="SetupActor"/> child does that); the rounds since are played again, as
/// <c>--resume</c> would, without a restart. While the generator's shard has no live node (until the split-brain
/// resolver downed the dead one) it is asked again every step timeout, up to <see cref="Attempts"/> times. The
/// result says what the coordinator does next: fail the run, or suspend the members that did not answer and go on.
/// </summary>
internal sealed class RollBackActor : ReceiveActor
{
    public const int Attempts = 10;

    /// <param name="Error">Why the run cannot go on (null: it goes on).</param>
    /// <param name="Unanswered">Members that were not configured again: suspended.</param>
    /// <param name="LearningRates">The restored members' learning rates, as the checkpoint holds them.</param>
    /// <param name="Restored">The "restored" fault's detail when an entity was asked to load its snapshot from the store.</param>
    public sealed record Result(string? Error, IReadOnlyList<int> Unanswered, IReadOnlyDictionary<int, double> LearningRates, string? Restored);

    /// <param name="storedRounds">Each participant's round in the state store, when the run has a checkpoint and the store holds it.</param>
    public static Props Props(StepContext step, string reason, Checkpoint? checkpoint, IReadOnlyList<string> participants, Func<string, long?> storedRounds)
    {
        IReadOnlyList<SetupActor.Target> targets =
            [.. participants.Select(e => new SetupActor.Target(e, checkpoint?.Entity(e), checkpoint is null ? null : storedRounds(e)))];
        return Akka.Actor.Props.Create<RollBackActor>(step, reason, checkpoint?.Metadata.Round ?? 0L, targets);
    }

    public RollBackActor(StepContext step, string reason, long checkpointRound, IReadOnlyList<SetupActor.Target> targets)
    {
        var generator = GeneratorId.Default.EntityId;
        Context.ActorOf(SetupActor.Props(step, targets, step.StepTimeout, generator, Attempts));
        Receive<SetupActor.Result>(r =>
        {
            Context.Parent.Tell(Judge(r, reason, checkpointRound, targets, generator));
            Context.Stop(Self);
        });
    }

    private static Result Judge(SetupActor.Result r, string reason, long checkpointRound, IReadOnlyList<SetupActor.Target> targets, string generator)
    {
        if (!r.Configured.ContainsKey(generator))
            return new Result($"{reason}; the generator could not be recovered after {Attempts} attempts", [], new Dictionary<int, double>(), null);
        var unrestored = targets.Where(t => t.Snapshot is not null && r.Configured.ContainsKey(t.EntityId) && !r.Restored.Contains(t.EntityId)).Select(t => t.EntityId).ToArray();
        if (unrestored.Length > 0)
            return new Result($"recover: restore failed: {string.Join(", ", unrestored)} did not take the checkpoint's state", [], new Dictionary<int, double>(), null);
        var unanswered = targets.Where(t => !r.Configured.ContainsKey(t.EntityId)).Select(t => DiscriminatorId.Parse(t.EntityId).Member).ToArray();
        var rates = targets.Where(t => r.Restored.Contains(t.EntityId) && !EntityIds.IsGenerator(t.EntityId))
            .ToDictionary(t => DiscriminatorId.Parse(t.EntityId).Member, t => t.Snapshot!.LearningRate);
        return new Result(null, unanswered, rates, targets.Any(t => t.StoredRound is not null) ? r.Describe(checkpointRound) : null);
    }
}
