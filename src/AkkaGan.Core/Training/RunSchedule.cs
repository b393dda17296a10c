using AkkaGan.Core.Health;
using AkkaGan.Core.Settings;

namespace AkkaGan.Core.Training;

/// <summary>
/// A step of a run, as <see cref="RunSchedule.Next"/> hands it to an engine. Work steps (<see cref="PlayRound"/>,
/// <see cref="Evolve"/>, <see cref="Evaluate"/>, <see cref="TakeCheckpoint"/>, <see cref="ApplyChange"/>,
/// <see cref="RollBack"/>) are reported back with the schedule's matching completion; notices (<see cref="PublishRound"/>,
/// <see cref="PublishHealth"/>, <see cref="PublishFault"/>) are published and need no answer; <see cref="Wait"/> means
/// nothing happens until a request; <see cref="Finish"/> is the last step.
/// </summary>
public abstract record RunStep
{
    /// <summary>Play round <paramref name="Round"/>: n-critic steps of every participant, then the generator's step.</summary>
    public sealed record PlayRound(long Round) : RunStep;

    /// <summary>Exploit/explore the population after round <paramref name="Round"/>.</summary>
    public sealed record Evolve(long Round) : RunStep;

    /// <summary>Evaluate the generator after round <paramref name="Round"/> (samples, metrics, fitness).</summary>
    public sealed record Evaluate(long Round) : RunStep;

    /// <summary>Checkpoint every entity after round <paramref name="Round"/>; on success it is the roll-back target.</summary>
    public sealed record TakeCheckpoint(long Round, CheckpointCause Cause) : RunStep;

    /// <summary>Apply a change between rounds; <paramref name="Requester"/> is the engine's own (null: the schedule's own change).</summary>
    public sealed record ApplyChange(RunChange Change, object? Requester) : RunStep;

    /// <summary>Every entity back to the checkpoint of round <paramref name="ToRound"/> (the start state when nothing was checkpointed).</summary>
    /// <param name="Diverged">The divergence guard's roll-back: learning rates are scaled afterwards.</param>
    public sealed record RollBack(long ToRound, string Reason, bool Diverged) : RunStep;

    /// <summary>Tell the observers a round is done, with its losses and gradient norms.</summary>
    public sealed record PublishRound(RoundReport Report) : RunStep;

    /// <summary>Tell the observers the latest training-health diagnosis.</summary>
    public sealed record PublishHealth(HealthReport Report) : RunStep;

    /// <summary>Tell the observers a fault the engine handled (a member lost, left out, restored; a roll-back).</summary>
    public sealed record PublishFault(FaultReport Report) : RunStep;

    /// <summary>Paused: nothing to do until a request (resume, stop, checkpoint, change).</summary>
    public sealed record Wait : RunStep;

    /// <summary>The run is over; <paramref name="Round"/> rounds were completed.</summary>
    public sealed record Finish(long Round, RunOutcome Outcome, string? Reason) : RunStep;
}

/// <summary>Why a checkpoint is taken.</summary>
public enum CheckpointCause
{
    /// <summary>checkpoint-every rounds have passed.</summary>
    Interval,
    /// <summary>An operator asked for one (<c>gan checkpoint</c>).</summary>
    Request,
    /// <summary>The run stops (a stop request, or the last round).</summary>
    Stop,
}

/// <summary>How a run ended.</summary>
public enum RunOutcome
{
    /// <summary>Every round was trained.</summary>
    Completed,
    /// <summary>Stopped on request (Ctrl-C, SIGTERM, <c>gan stop</c>) after a final checkpoint.</summary>
    Stopped,
    /// <summary>The divergence guard gave up after its allowed roll-backs.</summary>
    Diverged,
    /// <summary>An entity could not be recovered, or a step failed for good.</summary>
    Failed,
}

/// <summary>
/// How a run proceeds, for every engine: a pure state machine (no TorchSharp, no Akka, no clock) that owns the order
/// of the rounds and of what follows each (divergence guard, evolution, the round's report, evaluation, health and its
/// remedies, the interval checkpoint), the operator's requests between rounds (checkpoint, changes, pause, stop with a
/// last evaluation and checkpoint), the roll-back target and when to give up. <see cref="ReferenceTrainer"/> executes its
/// steps in a loop, the <c>CoordinatorActor</c> with messages; both therefore take the same decisions at the same rounds.
/// </summary>
public sealed class RunSchedule
{
    private readonly List<RunStep> _pending = [];
    private readonly Queue<(RunChange Change, object? Requester)> _changes = new();
    private readonly DivergenceGuard _guard;
    private readonly HealthMonitor _health;
    private readonly HealthRemedies _remedies;
    private RunStep? _running;
    private RunStep.Finish? _finished;
    // The round committed to follow the running one directly (PlayAhead): handed out before any request.
    private long? _ahead;
    private (RemedyAction Action, HealthReport Report)? _remedy;
    private int _rollbacks;
    private bool _stopRequested, _stopping, _paused, _checkpointRequested;
    private long _evaluated = -1, _checkpointed;

    /// <param name="startRound">Rounds completed at the start (a resumed checkpoint's round: also the first roll-back target).</param>
    public RunSchedule(TrainingSettings settings, long startRound = 0)
    {
        Settings = settings;
        Round = LastGoodRound = _checkpointed = startRound;
        _guard = new DivergenceGuard(settings.GradNormLimit);
        _health = new HealthMonitor(settings.Health);
        _remedies = new HealthRemedies(settings.Health);
    }

    /// <summary>The run's settings as they are now (changes applied included).</summary>
    public TrainingSettings Settings { get; private set; }

    /// <summary>Rounds completed.</summary>
    public long Round { get; private set; }

    /// <summary>The round of the last checkpoint taken (or of the start): where a roll-back goes.</summary>
    public long LastGoodRound { get; private set; }

    /// <summary>Stop scheduling rounds after the one in progress; requests (checkpoint, change, stop) are still served.</summary>
    public void Pause() => _paused = true;

    /// <summary>Schedule rounds again after <see cref="Pause"/>.</summary>
    public void Resume() => _paused = false;

    /// <summary>Stop after the current step's round: evaluate and checkpoint it unless done already, then finish.</summary>
    public void Stop() => _stopRequested = true;

    /// <summary>Take a checkpoint after the round in progress (at once while paused).</summary>
    public void RequestCheckpoint() => _checkpointRequested = true;

    /// <summary>A change to apply between rounds, in the order requested; <paramref name="requester"/> comes back with its step.</summary>
    public void RequestChange(RunChange change, object? requester) => _changes.Enqueue((change, requester));

    /// <summary>The change requests never served (the run finished first): the engine refuses them.</summary>
    public IReadOnlyList<(RunChange Change, object? Requester)> TakeUnservedChanges()
    {
        var unserved = _changes.ToArray();
        _changes.Clear();
        return unserved;
    }

    /// <summary>What the engine does next. Throws while a work step runs (complete it first).</summary>
    public RunStep Next()
    {
        if (_finished is not null) return _finished;
        if (_running is not null) throw new InvalidOperationException($"{_running} has not completed");
        while (true)
        {
            if (_pending.Count > 0)
            {
                var step = _pending[0];
                _pending.RemoveAt(0);
                switch (step)
                {
                    case DiagnoseHealth:
                        Diagnose();
                        continue;
                    case RunStep.PublishRound published:
                        _health.Observe(published.Report);
                        return step;
                    case RunStep.Finish finish:
                        return _finished = finish;
                    case RunStep.PublishHealth or RunStep.PublishFault:
                        return step;
                    default:
                        return _running = step;
                }
            }
            if (_ahead is { } ahead)
            {
                _ahead = null;
                return _running = new RunStep.PlayRound(ahead);
            }
            if (Round >= Settings.Rounds) return _finished = new RunStep.Finish(Round, RunOutcome.Completed, null);
            if (_stopRequested && !_stopping)
            {
                // Keep what was learned: evaluate and checkpoint the stopped round unless that was done already.
                _stopping = true;
                if (_evaluated != Round) _pending.Add(new RunStep.Evaluate(Round));
                if (_checkpointed != Round) _pending.Add(new RunStep.TakeCheckpoint(Round, CheckpointCause.Stop));
                _pending.Add(new RunStep.Finish(Round, RunOutcome.Stopped, "stopped"));
                continue;
            }
            if (_checkpointRequested)
            {
                _checkpointRequested = false;
                return _running = new RunStep.TakeCheckpoint(Round, CheckpointCause.Request);
            }
            if (_changes.TryDequeue(out var change)) return _running = new RunStep.ApplyChange(change.Change, change.Requester);
            if (_paused) return new RunStep.Wait();
            return _running = new RunStep.PlayRound(Round + 1);
        }
    }

    /// <summary>
    /// While round r is being played: whether round r + 1 follows it directly if r completes and passes the divergence
    /// guard: r is on no interval (evolution, evaluation, checkpoint, health with auto-remedy), it is not the last, and no
    /// request waits (stop, pause, checkpoint, change). If so the schedule commits to it: after r's notices the next step is
    /// <c>PlayRound(r + 1)</c>, before any request made meanwhile, so an engine may start r + 1 before r's result is in (the
    /// cluster engine does, to keep the generator busy). A diverged, failed or unplayed r cancels the commitment; the engine
    /// then throws away whatever r + 1 did (the roll-back, or the round played again, puts every entity back in step).
    /// </summary>
    /// <returns>r + 1, or null when the round after r is not certain (or one is committed already).</returns>
    public long? PlayAhead()
    {
        if (_running is not RunStep.PlayRound { Round: var r } || _ahead is not null || _pending.Count > 0) return null;
        if (r >= Settings.Rounds || _stopRequested || _paused || _checkpointRequested || _changes.Count > 0) return null;
        if ((Settings.EvolveEvery > 0 && r % Settings.EvolveEvery == 0) || r % Settings.EvalEvery == 0 || r % Settings.CheckpointEvery == 0
            || (Settings.Health.AutoRemedy && r % Settings.Health.Every == 0)) return null;
        return _ahead = r + 1;
    }

    /// <summary>
    /// The round was played. The divergence guard checks it first (a diverged round is rolled back before anything else,
    /// so it never evolves or reports); then evolution, the report, evaluation, health and the checkpoint on their intervals.
    /// </summary>
    public void RoundPlayed(RoundReport report)
    {
        if (_running is RunStep.PlayRound play && report.Round != play.Round)
            throw new InvalidOperationException($"round {play.Round} was played, but the report is of round {report.Round}");
        Complete<RunStep.PlayRound>();
        Round = report.Round;
        if (Settings.MaxRollbacks > 0 && _guard.Check(report) is { } reason)
        {
            if (++_rollbacks > Settings.MaxRollbacks)
            {
                _ahead = null;
                _pending.Add(new RunStep.Finish(Round, RunOutcome.Diverged, DivergenceGuard.GiveUp(reason, Settings.MaxRollbacks, LastGoodRound)));
                return;
            }
            _ahead = null;
            _pending.Add(Fault("diverged", reason));
            _health.Diverged(Round, reason);
            RollBackFor(reason, diverged: true);
            return;
        }
        var last = Round == Settings.Rounds;
        if (Settings.EvolveEvery > 0 && Round % Settings.EvolveEvery == 0) _pending.Add(new RunStep.Evolve(Round));
        _pending.Add(new RunStep.PublishRound(report));
        if (Round % Settings.EvalEvery == 0 || last) _pending.Add(new RunStep.Evaluate(Round));
        if (Round % Settings.Health.Every == 0) _pending.Add(new DiagnoseHealth());
        if (Round % Settings.CheckpointEvery == 0 || last) _pending.Add(new RunStep.TakeCheckpoint(Round, CheckpointCause.Interval));
    }

    /// <summary>The round was not played and nothing changed (e.g. too few members to play it): it is asked for again.</summary>
    public void RoundNotPlayed()
    {
        Complete<RunStep.PlayRound>();
        _ahead = null;
    }

    /// <summary>The round failed and left the entities out of step (e.g. the generator's node was lost): roll back.</summary>
    public void RoundFailed(string reason)
    {
        Complete<RunStep.PlayRound>();
        _ahead = null;
        RollBackFor(reason, diverged: false);
    }

    /// <summary>The evolution step asked for is done.</summary>
    public void Evolved() => Complete<RunStep.Evolve>();

    /// <param name="report">The evaluation (null: it could not be made; the run goes on).</param>
    public void Evaluated(EvaluationReport? report)
    {
        Complete<RunStep.Evaluate>();
        _evaluated = Round;
        if (report is not null) _health.Observe(report);
    }

    /// <param name="taken">False when the checkpoint could not hold every entity and was skipped: the roll-back target stays.</param>
    public void CheckpointTaken(bool taken)
    {
        Complete<RunStep.TakeCheckpoint>();
        if (!taken) return;
        LastGoodRound = _checkpointed = Round;
    }

    /// <param name="settings">The settings from now on, or null when the change was refused.</param>
    /// <param name="refusal">Why it was refused.</param>
    public void ChangeApplied(TrainingSettings? settings, string? refusal = null)
    {
        Complete<RunStep.ApplyChange>();
        if (settings is not null) Settings = settings;
        if (_remedy is not { } remedy) return;
        _remedy = null;
        if (settings is not null)
        {
            _remedies.Applied(remedy.Action, Round);
            _guard.Reset(); // a remedy changes the regime on purpose: the norms' median starts again
        }
        else _pending.Insert(0, new RunStep.PublishHealth(remedy.Report with { RemedyNote = $"{remedy.Action.RemedyName} refused: {refusal}" }));
    }

    /// <summary>Every entity is back at <see cref="LastGoodRound"/>; after a divergence every learning rate is scaled next.</summary>
    public void RolledBack()
    {
        var rollBack = Complete<RunStep.RollBack>();
        Round = _checkpointed = rollBack.ToRound;
        if (!rollBack.Diverged) return;
        _guard.Reset();
        _pending.Insert(0, new RunStep.ApplyChange(new ScaleLearningRates(Settings.RollbackLrFactor) { Reason = "divergence guard" }, null));
    }

    /// <summary>The running step failed beyond recovery: the run ends with <paramref name="reason"/>.</summary>
    public void Failed(string reason)
    {
        _running = null;
        _ahead = null;
        _pending.Clear();
        _finished = new RunStep.Finish(Round, RunOutcome.Failed, reason);
    }

    private void RollBackFor(string reason, bool diverged)
    {
        _pending.Add(Fault("rolled-back", DivergenceGuard.RollBackDetail(reason, LastGoodRound, Round)));
        _pending.Add(new RunStep.RollBack(LastGoodRound, reason, diverged));
    }

    /// <summary>A diagnosis of the round; with <c>--auto-remedy</c> its remedy is the next step, before the round's checkpoint (which then holds the new settings).</summary>
    private void Diagnose()
    {
        var report = _health.Diagnose(Round);
        if (!Settings.Health.AutoRemedy)
        {
            _pending.Insert(0, new RunStep.PublishHealth(report));
            return;
        }
        var action = _remedies.Decide(report, Settings, out var note);
        _pending.Insert(0, new RunStep.PublishHealth(report with { Action = action, RemedyNote = note }));
        if (action is null) return;
        _remedy = (action, report);
        _pending.Insert(1, new RunStep.ApplyChange(action.Change, null));
    }

    private RunStep.PublishFault Fault(string kind, string detail) => new(new FaultReport(Round, GeneratorId.Default.EntityId, kind, detail));

    private T Complete<T>() where T : RunStep
    {
        if (_running is not T step) throw new InvalidOperationException($"{typeof(T).Name} completed, but the running step is {(object?)_running ?? "none"}");
        _running = null;
        return step;
    }

    /// <summary>The health check of a round, resolved when its turn comes (after the round's evaluation fed the monitor).</summary>
    private sealed record DiagnoseHealth : RunStep;
}
