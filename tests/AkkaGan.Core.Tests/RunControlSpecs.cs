using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>The reference engine's controls (<see cref="RunControl"/>, its <see cref="IRunEngine"/>) on a real run, through the schedule.</summary>
public sealed class RunControlSpecs
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static TrainingSettings Tiny => new()
    {
        Rounds = 6, Batch = 16, HiddenUnits = 8, LatentDim = 4, Unroll = 0, EvalSamples = 100, EvalEvery = 3, CheckpointEvery = 100,
    };

    /// <summary>What the run reports, with a task per checkpoint written (the proof that a paused run serves requests).</summary>
    private sealed class Events : ITrainingObserver
    {
        private int _rounds;
        public int Rounds => Volatile.Read(ref _rounds);
        public TaskCompletionSource<long> Checkpointed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public void OnRound(RoundReport report) => Interlocked.Increment(ref _rounds);
        public void OnCheckpoint(long round, string path) => Checkpointed.TrySetResult(round);
    }

    [Fact]
    public async Task A_paused_run_should_serve_requests_play_no_round_and_go_on_when_resumed()
    {
        using var folder = new TempFolder();
        using var control = new RunControl();
        var events = new Events();
        using var trainer = new ReferenceTrainer(Tiny, RunData.Create(Tiny), CPU, events);
        control.Pause();
        var run = Task.Run(() => trainer.Run(new Checkpoints.CheckpointStore(folder.Path, 3), control, control.Stopping));
        control.RequestCheckpoint();
        // The checkpoint of round 0 is written while paused: the run waits between rounds and still serves requests.
        Assert.Equal(0, await events.Checkpointed.Task.WaitAsync(Patience, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(0, events.Rounds);
        Assert.True(control.IsPaused);
        control.Resume();
        var finish = await run.WaitAsync(Patience, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal((RunOutcome.Completed, 6L), (finish.Outcome, finish.Round));
        Assert.Equal(6, events.Rounds);
    }

    [Fact]
    public async Task A_stop_should_end_a_paused_run_with_its_last_evaluation()
    {
        using var control = new RunControl();
        var events = new Events();
        using var trainer = new ReferenceTrainer(Tiny, RunData.Create(Tiny), CPU, events);
        control.Pause();
        var run = Task.Run(() => trainer.Run(null, control, control.Stopping));
        control.Stop();
        Assert.True(control.Stopping.IsCancellationRequested);
        var finish = await run.WaitAsync(Patience, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal((RunOutcome.Stopped, 0L), (finish.Outcome, finish.Round));
        Assert.Equal(0, events.Rounds);
    }

    [Fact]
    public void A_checkpoint_request_should_be_taken_once()
    {
        using var control = new RunControl();
        Assert.False(control.TakeCheckpointRequest());
        control.RequestCheckpoint();
        Assert.True(control.TakeCheckpointRequest());
        Assert.False(control.TakeCheckpointRequest());
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("akkagan-control-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
