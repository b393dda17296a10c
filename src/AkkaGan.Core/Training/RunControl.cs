namespace AkkaGan.Core.Training;

/// <summary>
/// An operator's between-round requests to a running training (the control plane's <c>gan pause</c>, <c>gan
/// resume</c>, <c>gan checkpoint</c>), shared by every engine: the reference engine reads it between rounds, the
/// cluster engine forwards <see cref="Changed"/> to its coordinator. A stop is not here: it is the run's
/// cancellation, the same as Ctrl-C.
/// </summary>
public sealed class RunControl
{
    private readonly Lock _gate = new();
    private TaskCompletionSource? _resumed;
    private bool _checkpointRequested;

    /// <summary>Raised after every request, on the requester's thread.</summary>
    public event Action? Changed;

    public bool IsPaused
    {
        get
        {
            lock (_gate) return _resumed is not null;
        }
    }

    /// <summary>Finish the current round, then wait for <see cref="Resume"/> (or a stop).</summary>
    public void Pause()
    {
        lock (_gate) _resumed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Changed?.Invoke();
    }

    public void Resume()
    {
        TaskCompletionSource? resumed;
        lock (_gate)
        {
            resumed = _resumed;
            _resumed = null;
        }
        resumed?.TrySetResult();
        Changed?.Invoke();
    }

    /// <summary>Write a checkpoint after the current round (also while paused).</summary>
    public void RequestCheckpoint()
    {
        lock (_gate) _checkpointRequested = true;
        Changed?.Invoke();
    }

    /// <summary>True once per <see cref="RequestCheckpoint"/>: the engine takes the request and checkpoints.</summary>
    public bool TakeCheckpointRequest()
    {
        lock (_gate)
        {
            var requested = _checkpointRequested;
            _checkpointRequested = false;
            return requested;
        }
    }

    /// <summary>Blocks while paused; returns at once when running, or when <paramref name="cancellation"/> fires.</summary>
    /// <param name="whilePaused">Called every half second while paused (e.g. to honour checkpoint requests).</param>
    public void WaitWhilePaused(CancellationToken cancellation, Action? whilePaused = null)
    {
        while (true)
        {
            Task resumed;
            lock (_gate)
            {
                if (_resumed is null) return;
                resumed = _resumed.Task;
            }
            try
            {
                resumed.Wait(TimeSpan.FromMilliseconds(500), cancellation);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            whilePaused?.Invoke();
        }
    }
}
