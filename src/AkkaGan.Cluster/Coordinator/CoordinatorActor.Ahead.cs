using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Diagnostics;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// Rounds ahead (<c>akkagan.cluster.play-ahead</c>): while round r is played, round r + 1 is sent to the generator as soon
/// as the schedule commits to it (<see cref="Core.Training.RunSchedule.PlayAhead"/>: r is on no interval and no request
/// waits) and every member takes part. The generator starts it the moment its step of r is done, so no round waits for
/// the coordinator's hops (the generator's answer, the schedule, the next request). The generator plays it only if r
/// completed with every member (<c>RunRound.Follows</c>), otherwise it declines it and the round is scheduled again
/// without the members r lost. A result of r that is not a clean round (the generator failed, a divergence, exact
/// recovery) waits until r + 1 is resolved, and whatever r + 1 did is thrown away: the roll-back restores every entity.
/// </summary>
public sealed partial class CoordinatorActor
{
    private readonly IActorRef?[] _lanes = new IActorRef?[2];
    private readonly bool _playAhead;
    // The round sent ahead of the one being played (null: none), its result if it came first, and what waits for it.
    private long? _ahead;
    private RoundActor.Result? _early;
    private Action? _afterAhead;

    /// <summary>The round child of <paramref name="round"/>'s lane: odd and even rounds alternate.</summary>
    private IActorRef Lane(long round)
    {
        var lane = (int)(round % 2);
        return _lanes[lane] ??= Context.ActorOf(Akka.Actor.Props.Create<RoundActor>(Step, lane), $"rounds-{lane}");
    }

    /// <summary>Sends the round after <paramref name="playing"/> ahead when the schedule commits to it and nobody is suspended.</summary>
    private void PlayAhead(long playing)
    {
        if (!_playAhead || _ahead is not null || _recovery.Suspended.Count > 0 || _schedule.PlayAhead() is not { } next) return;
        _ahead = next;
        RoundTrace.Mark("c.ahead", next);
        Lane(next).Tell(new RoundActor.Play(Step, next, Participants, playing));
    }

    /// <summary>The schedule's round is the one sent ahead: it becomes the round being played.</summary>
    private void Promote()
    {
        var round = _ahead!.Value;
        _ahead = null;
        if (_early is { } early)
        {
            _early = null;
            Self.Tell(early);
            return;
        }
        PlayAhead(round);
    }

    /// <summary>Runs <paramref name="then"/> once no round sent ahead is in flight (at once when none is), throwing that round's result away.</summary>
    private void WhenAheadResolved(Action then)
    {
        if (_ahead is null) then();
        else if (_early is { } early)
        {
            _early = null;
            _ahead = null;
            Discard(early);
            then();
        }
        else _afterAhead = then;
    }

    private void RoundResult(RoundActor.Result r)
    {
        if (r.Round != _ahead)
        {
            Played(r);
            return;
        }
        if (_afterAhead is not { } then)
        {
            _early = r; // came before the result of the round being played
            return;
        }
        _ahead = null;
        _afterAhead = null;
        Discard(r);
        then();
    }

    private void Discard(RoundActor.Result r)
    {
        if (r.Report is not null) _log.Info("round {0}, played ahead, is not kept: the round before it did not complete cleanly", r.Round);
    }
}
