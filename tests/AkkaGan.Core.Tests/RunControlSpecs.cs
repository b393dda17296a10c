using AkkaGan.Core.Training;

namespace AkkaGan.Core.Tests;

public sealed class RunControlSpecs
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_paused_run_should_wait_until_resumed()
    {
        var control = new RunControl();
        var changes = 0;
        control.Changed += () => changes++;
        control.Pause();
        Assert.True(control.IsPaused);

        // The wait calls back while it is still paused: proof that it waited, without a timed pause in the test.
        var waited = new TaskCompletionSource();
        var waiting = Task.Run(() => control.WaitWhilePaused(CancellationToken.None, () => waited.TrySetResult()));
        await waited.Task.WaitAsync(Patience);
        Assert.False(waiting.IsCompleted);
        control.Resume();
        await waiting.WaitAsync(Patience);
        Assert.False(control.IsPaused);
        Assert.Equal(2, changes);
    }

    [Fact]
    public async Task A_stop_should_end_the_wait_of_a_paused_run()
    {
        var control = new RunControl();
        control.Pause();
        using var stop = new CancellationTokenSource();
        var waiting = Task.Run(() => control.WaitWhilePaused(stop.Token));
        await stop.CancelAsync();
        await waiting.WaitAsync(Patience);
        Assert.True(control.IsPaused); // still paused: acting on the stop is the caller's job
    }

    [Fact]
    public async Task A_checkpoint_request_should_be_taken_once_and_be_served_while_paused()
    {
        var control = new RunControl();
        Assert.False(control.TakeCheckpointRequest());
        control.RequestCheckpoint();
        Assert.True(control.TakeCheckpointRequest());
        Assert.False(control.TakeCheckpointRequest());

        control.Pause();
        var served = new TaskCompletionSource();
        var waiting = Task.Run(() => control.WaitWhilePaused(CancellationToken.None, () =>
        {
            if (control.TakeCheckpointRequest()) served.TrySetResult();
        }));
        control.RequestCheckpoint();
        await served.Task.WaitAsync(Patience);
        control.Resume();
        await waiting.WaitAsync(Patience);
    }
}
