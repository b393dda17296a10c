using Akka.Actor;
using AkkaGan.Cluster.Diagnostics;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// Step results: what the coordinator does with a finished round, roll-back, checkpoint or live change before it drives
/// the schedule on.
/// </summary>
public sealed partial class CoordinatorActor
{
    private void Played(RoundActor.Result r)
    {
        RoundTrace.Mark("c.played", r.Round);
        if (r.Declined)
        {
            // A round sent ahead that the generator did not start: nothing happened; it is scheduled again without the members lost before it.
            _schedule.RoundNotPlayed();
            Drive();
            return;
        }
        if (r.Report is null)
        {
            WhenAheadResolved(() => RecoverGenerator($"the generator did not complete round {r.Round}", r.CriticStepsTaken));
            return;
        }
        if (r.Missing.Count > 0 && Settings.Recovery == RecoveryMode.Exact)
        {
            // Exact recovery: the round went on without the member, so nobody keeps it; everyone goes back to the last
            // checkpoint (which holds every member current) and replays, as after a lost generator.
            _schedule.RoundFailed($"{string.Join(", ", r.Missing.Select(m => new DiscriminatorId(m).EntityId))} missed round {r.Round} (recovery = exact)");
            Drive();
            return;
        }
        foreach (var member in r.Missing) _recovery.Suspend(member, r.Round);
        _schedule.RoundPlayed(r.Report);
        Drive();
    }

    private void RolledBack(RollBackActor.Result r)
    {
        if (_rollingBack is null) return; // stopped meanwhile
        _rollingBack = null;
        if (r.Error is not null)
        {
            Fail(r.Error);
            return;
        }
        Place(r.Placed);
        foreach (var member in r.Unanswered) _recovery.Suspend(member, Round);
        foreach (var (member, rate) in r.LearningRates) _learningRates[member] = rate;
        if (r.Restored is not null) Fault(GeneratorId.Default.EntityId, "restored", r.Restored);
        _schedule.RolledBack();
        Drive();
    }

    private void Checkpointed(CheckpointActor.Result r)
    {
        if (r.Checkpoint is { } checkpoint)
        {
            // The checkpoint records each entity's own round: older than the checkpoint's for a member left out of it.
            checkpoint = checkpoint with
            {
                Metadata = checkpoint.Metadata with
                {
                    EntityRounds = checkpoint.Entities.ToDictionary(e => e.EntityId, e => _keeping.TryGetValue(e.EntityId, out var kept) ? kept.Round : Round),
                },
            };
            _lastCheckpoint = checkpoint;
            _positions.Save(Round, Settings, r.Saved, Self);
            _observer.Tell(new C.CheckpointTaken(checkpoint));
        }
        _schedule.CheckpointTaken(r.Checkpoint is not null);
        Drive();
    }

    private void Changed(ChangeActor.Result r)
    {
        if (r.Plan is not { } plan)
        {
            _changeRequester.Tell(new C.ChangeRefused(r.Refusal!));
            _schedule.ChangeApplied(null, r.Refusal);
            Drive();
            return;
        }
        if (plan.Added is { } added) Place(new Dictionary<string, string> { [new DiscriminatorId(added).EntityId] = r.AddedOn! });
        if (plan.Removed is { } removed)
        {
            _learningRates.Remove(removed);
            _recovery.Forget(removed);
            _positions.Forget(new DiscriminatorId(removed).EntityId); // the next stored position no longer names it
        }
        _members = plan.Settings.ActiveMembers;
        foreach (var i in _members.Where(i => i == plan.Added || plan.ResetLearningRate.Contains(i))) _learningRates[i] = plan.Settings.ForMember(i).LrD;
        var report = new C.RunChanged(new ChangeReport(Round, plan.Description, plan.Settings));
        _changeRequester.Tell(report);
        _observer.Tell(report);
        _schedule.ChangeApplied(plan.Settings);
        Drive();
    }
}
