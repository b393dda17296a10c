using AkkaGan.Core.Health;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;

namespace AkkaGan.Core.Tests;

/// <summary>
/// The run schedule without TorchSharp: a scripted engine plays its steps and the specs read the trace, one line per
/// step (<c>play 3</c>, <c>evolve 4</c>, <c>round 4</c>, <c>eval 4</c>, <c>checkpoint 4 interval</c>, ...).
/// </summary>
public sealed class RunScheduleSpecs
{
    private static TrainingSettings Settings(int rounds = 6, int evalEvery = 3, int checkpointEvery = 2, int evolveEvery = 0, int maxRollbacks = 2)
        => new()
        {
            Rounds = rounds, Discriminators = 2, EvalEvery = evalEvery, CheckpointEvery = checkpointEvery, EvolveEvery = evolveEvery, MaxRollbacks = maxRollbacks,
            Health = new HealthSettings { Every = 1000 },
        };

    private static RoundReport Report(long round, double loss = 0.5) => new(round, loss, 1, [new DiscriminatorStepResult(0, round, 0, 0.5, 0, 0, 0, 1)], [0]);

    /// <summary>Plays the schedule to its end; <paramref name="before"/> runs before each step (requests), <paramref name="loss"/> gives each round's generator loss.</summary>
    private static List<string> Trace(RunSchedule schedule, Action<RunSchedule, List<string>>? before = null, Func<long, double>? loss = null, int limit = 200)
    {
        var trace = new List<string>();
        for (var i = 0; i < limit; i++)
        {
            before?.Invoke(schedule, trace);
            var step = schedule.Next();
            switch (step)
            {
                case RunStep.PlayRound play:
                    trace.Add($"play {play.Round}");
                    schedule.RoundPlayed(Report(play.Round, loss?.Invoke(play.Round) ?? 0.5));
                    break;
                case RunStep.Evolve evolve:
                    trace.Add($"evolve {evolve.Round}");
                    schedule.Evolved();
                    break;
                case RunStep.PublishRound round:
                    trace.Add($"round {round.Report.Round}");
                    break;
                case RunStep.Evaluate evaluate:
                    trace.Add($"eval {evaluate.Round}");
                    schedule.Evaluated(null);
                    break;
                case RunStep.TakeCheckpoint checkpoint:
                    trace.Add($"checkpoint {checkpoint.Round} {checkpoint.Cause.ToString().ToLowerInvariant()}");
                    schedule.CheckpointTaken(true);
                    break;
                case RunStep.ApplyChange change:
                    trace.Add($"change {change.Change.GetType().Name} {change.Requester ?? "schedule"}");
                    schedule.ChangeApplied(RunChanges.Plan(schedule.Settings, change.Change).Settings);
                    break;
                case RunStep.RollBack back:
                    trace.Add($"rollback to {back.ToRound}");
                    schedule.RolledBack();
                    break;
                case RunStep.PublishFault fault:
                    trace.Add($"fault {fault.Report.Event} {fault.Report.Round}");
                    break;
                case RunStep.PublishHealth health:
                    trace.Add($"health {health.Report.Round}");
                    break;
                case RunStep.Wait:
                    trace.Add("wait");
                    break;
                case RunStep.Finish finish:
                    trace.Add($"finish {finish.Round} {finish.Outcome.ToString().ToLowerInvariant()}");
                    return trace;
            }
        }
        throw new InvalidOperationException($"no finish within {limit} steps: {string.Join(", ", trace)}");
    }

    [Fact]
    public void Schedule_should_run_the_round_tail_in_one_order()
    {
        var trace = Trace(new RunSchedule(Settings(rounds: 4, evalEvery: 2, checkpointEvery: 3, evolveEvery: 2)));
        Assert.Equal(
        [
            "play 1", "round 1",
            "play 2", "evolve 2", "round 2", "eval 2",
            "play 3", "round 3", "checkpoint 3 interval",
            "play 4", "evolve 4", "round 4", "eval 4", "checkpoint 4 interval",
            "finish 4 completed",
        ], trace);
    }

    [Fact]
    public void Schedule_should_start_from_a_resumed_round_and_finish_at_once_when_it_is_the_last()
    {
        Assert.Equal(["play 5", "round 5", "play 6", "round 6", "eval 6", "checkpoint 6 interval", "finish 6 completed"], Trace(new RunSchedule(Settings(), 4)));
        Assert.Equal(["finish 6 completed"], Trace(new RunSchedule(Settings(), 6)));
    }

    [Fact]
    public void Schedule_should_roll_a_diverged_round_back_to_the_last_checkpoint_of_either_kind_before_it_evolves()
    {
        // An operator's checkpoint after round 1; round 2 (an evolution round) diverges: back to round 1, not to the start.
        var schedule = new RunSchedule(Settings(rounds: 3, evolveEvery: 2, checkpointEvery: 100, evalEvery: 100));
        var diverged = false;
        var trace = Trace(schedule,
            before: (s, t) =>
            {
                if (t is ["play 1", "round 1"]) s.RequestCheckpoint();
            },
            loss: round =>
            {
                if (round != 2 || diverged) return 0.5;
                diverged = true;
                return double.NaN;
            });
        Assert.Equal(
        [
            "play 1", "round 1", "checkpoint 1 request",
            "play 2", "fault diverged 2", "fault rolled-back 2", "rollback to 1", "change ScaleLearningRates schedule",
            "play 2", "evolve 2", "round 2",
            "play 3", "round 3", "eval 3", "checkpoint 3 interval", "finish 3 completed",
        ], trace);
        Assert.Equal(2e-3 * 0.5, schedule.Settings.LrG, 12);
    }

    [Fact]
    public void Schedule_should_give_up_after_its_roll_backs()
    {
        var trace = Trace(new RunSchedule(Settings(maxRollbacks: 1)), loss: round => round == 3 ? double.PositiveInfinity : 0.5);
        Assert.Equal(
        [
            "play 1", "round 1", "play 2", "round 2", "checkpoint 2 interval",
            "play 3", "fault diverged 3", "fault rolled-back 3", "rollback to 2", "change ScaleLearningRates schedule",
            "play 3", "finish 3 diverged",
        ], trace);
    }

    [Theory]
    [InlineData(1, new[] { "round 1", "eval 1", "checkpoint 1 stop", "finish 1 stopped" })] // neither done at round 1
    [InlineData(2, new[] { "round 2", "checkpoint 2 interval", "eval 2", "finish 2 stopped" })] // its interval checkpointed it
    [InlineData(3, new[] { "round 3", "eval 3", "checkpoint 3 stop", "finish 3 stopped" })] // its interval evaluated it
    [InlineData(6, new[] { "round 6", "eval 6", "checkpoint 6 interval", "finish 6 completed" })] // the last round: completed
    public void Stop_should_evaluate_and_checkpoint_the_round_unless_done(int round, string[] tail)
    {
        // Asked while the round plays: the round completes with its own tail, then the stop's steps follow.
        var trace = Trace(new RunSchedule(Settings()), before: (s, t) =>
        {
            if (t.Count > 0 && t[^1] == $"play {round}") s.Stop();
        });
        Assert.Equal(tail, trace[(trace.IndexOf($"play {round}") + 1)..]);
    }

    [Fact]
    public void A_stop_at_the_start_should_checkpoint_nothing()
    {
        var schedule = new RunSchedule(Settings(), 4);
        schedule.Stop();
        Assert.Equal(["eval 4", "finish 4 stopped"], Trace(schedule));
    }

    [Fact]
    public void A_paused_run_should_wait_and_still_serve_checkpoints_and_changes()
    {
        var schedule = new RunSchedule(Settings(rounds: 2, checkpointEvery: 100, evalEvery: 100));
        var waits = 0;
        var trace = Trace(schedule, before: (s, t) =>
        {
            if (t is ["play 1", "round 1"])
            {
                s.Pause();
                s.RequestCheckpoint();
                s.RequestChange(new SetSetting("lr-g", "0.001"), "alice");
                s.RequestChange(new SetSetting("n-critic", "2"), "bob");
            }
            if (t.Count > 0 && t[^1] == "wait" && ++waits == 2) s.Resume();
        });
        Assert.Equal(
        [
            "play 1", "round 1", "checkpoint 1 request", "change SetSetting alice", "change SetSetting bob", "wait", "wait",
            "play 2", "round 2", "eval 2", "checkpoint 2 interval", "finish 2 completed",
        ], trace);
        Assert.Equal(0.001, schedule.Settings.LrG);
        Assert.Equal(2, schedule.Settings.NCritic);
    }

    [Fact]
    public void A_refused_change_should_leave_the_settings_and_a_finished_run_should_hand_back_unserved_changes()
    {
        var schedule = new RunSchedule(Settings(rounds: 1));
        schedule.RequestChange(new SetSetting("lr-g", "-1"), "carol");
        var change = Assert.IsType<RunStep.ApplyChange>(schedule.Next());
        Assert.Equal("carol", change.Requester);
        schedule.ChangeApplied(null, "lr-g must be positive");
        Assert.Equal(2e-3, schedule.Settings.LrG);
        schedule.RoundPlayed(Report(Assert.IsType<RunStep.PlayRound>(schedule.Next()).Round));
        schedule.RequestChange(new SetSetting("lr-g", "0.1"), "dave");
        Assert.IsType<RunStep.PublishRound>(schedule.Next());
        Assert.IsType<RunStep.Evaluate>(schedule.Next());
        schedule.Evaluated(null);
        Assert.IsType<RunStep.TakeCheckpoint>(schedule.Next());
        schedule.CheckpointTaken(true);
        Assert.Equal(RunOutcome.Completed, Assert.IsType<RunStep.Finish>(schedule.Next()).Outcome);
        Assert.Equal("dave", Assert.Single(schedule.TakeUnservedChanges()).Requester);
    }

    [Fact]
    public void A_failed_round_should_roll_back_without_scaling_learning_rates()
    {
        var schedule = new RunSchedule(Settings(rounds: 3));
        var failed = false;
        var trace = new List<string>();
        while (schedule.Next() is var step && step is not RunStep.Finish)
        {
            trace.Add(step.GetType().Name);
            switch (step)
            {
                case RunStep.PlayRound { Round: 3 } when !failed:
                    failed = true;
                    schedule.RoundFailed("the generator did not complete round 3");
                    break;
                case RunStep.PlayRound play: schedule.RoundPlayed(Report(play.Round)); break;
                case RunStep.Evaluate: schedule.Evaluated(null); break;
                case RunStep.TakeCheckpoint: schedule.CheckpointTaken(true); break;
                case RunStep.RollBack back:
                    Assert.Equal(2, back.ToRound);
                    Assert.False(back.Diverged);
                    schedule.RolledBack();
                    break;
            }
        }
        Assert.Equal(["PlayRound", "PublishRound", "PlayRound", "PublishRound", "TakeCheckpoint", "PlayRound", "PublishFault", "RollBack",
            "PlayRound", "PublishRound", "Evaluate", "TakeCheckpoint"], trace);
        Assert.Equal(2e-3, schedule.Settings.LrG);
    }

    [Fact]
    public void Schedule_should_refuse_a_completion_of_a_step_it_did_not_hand_out()
    {
        var schedule = new RunSchedule(Settings());
        Assert.Throws<InvalidOperationException>(() => schedule.Evolved());
        Assert.IsType<RunStep.PlayRound>(schedule.Next());
        Assert.Throws<InvalidOperationException>(() => schedule.Next()); // the round is still running
        Assert.Throws<InvalidOperationException>(() => schedule.RoundPlayed(Report(7)));
        schedule.RoundNotPlayed();
        Assert.Equal(1, Assert.IsType<RunStep.PlayRound>(schedule.Next()).Round); // asked for again
    }

    [Fact]
    public void A_failure_should_finish_the_run()
    {
        var schedule = new RunSchedule(Settings());
        Assert.IsType<RunStep.PlayRound>(schedule.Next());
        schedule.Failed("the generator could not be recovered");
        var finish = Assert.IsType<RunStep.Finish>(schedule.Next());
        Assert.Equal((RunOutcome.Failed, "the generator could not be recovered", 0L), (finish.Outcome, finish.Reason, finish.Round));
    }

    [Fact]
    public void A_round_committed_ahead_should_come_before_the_requests_made_while_the_round_before_it_ran()
    {
        var schedule = new RunSchedule(Settings(rounds: 4, evalEvery: 3, checkpointEvery: 100));
        Assert.Equal(1, Assert.IsType<RunStep.PlayRound>(schedule.Next()).Round);
        Assert.Equal(2, schedule.PlayAhead());
        Assert.Null(schedule.PlayAhead()); // one at a time
        schedule.RequestCheckpoint(); // made while round 1 runs, with round 2 on its way
        schedule.RoundPlayed(Report(1));
        Assert.IsType<RunStep.PublishRound>(schedule.Next());
        Assert.Equal(2, Assert.IsType<RunStep.PlayRound>(schedule.Next()).Round);
        Assert.Null(schedule.PlayAhead()); // a request waits: nothing more is committed
        schedule.RoundPlayed(Report(2));
        Assert.IsType<RunStep.PublishRound>(schedule.Next());
        var checkpoint = Assert.IsType<RunStep.TakeCheckpoint>(schedule.Next());
        Assert.Equal((2L, CheckpointCause.Request), (checkpoint.Round, checkpoint.Cause));
        schedule.CheckpointTaken(true);
        Assert.Equal(3, Assert.IsType<RunStep.PlayRound>(schedule.Next()).Round);
        Assert.Null(schedule.PlayAhead()); // round 3 is evaluated
        schedule.RoundPlayed(Report(3));
        Assert.IsType<RunStep.PublishRound>(schedule.Next());
        Assert.IsType<RunStep.Evaluate>(schedule.Next());
        schedule.Evaluated(null);
        Assert.Equal(4, Assert.IsType<RunStep.PlayRound>(schedule.Next()).Round);
        Assert.Null(schedule.PlayAhead()); // the last round
    }

    [Fact]
    public void A_diverged_failed_or_unplayed_round_should_cancel_the_round_committed_after_it()
    {
        static RunSchedule Ahead()
        {
            var schedule = new RunSchedule(Settings(rounds: 6, evalEvery: 100, checkpointEvery: 100));
            Assert.IsType<RunStep.PlayRound>(schedule.Next());
            Assert.Equal(2, schedule.PlayAhead());
            return schedule;
        }

        var diverged = Ahead();
        diverged.RoundPlayed(Report(1, double.NaN));
        Assert.Equal([typeof(RunStep.PublishFault), typeof(RunStep.PublishFault), typeof(RunStep.RollBack)],
            [diverged.Next().GetType(), diverged.Next().GetType(), diverged.Next().GetType()]);

        var failed = Ahead();
        failed.RoundFailed("the generator did not complete round 1");
        Assert.IsType<RunStep.PublishFault>(failed.Next());
        Assert.Equal(0, Assert.IsType<RunStep.RollBack>(failed.Next()).ToRound);

        var unplayed = Ahead();
        unplayed.RoundNotPlayed();
        Assert.Equal(1, Assert.IsType<RunStep.PlayRound>(unplayed.Next()).Round);
    }
}
