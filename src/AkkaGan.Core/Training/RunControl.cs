namespace AkkaGan.Core.Training;

/// <summary>
/// An operator's requests to a running training, queued for an engine that takes them between its steps: the
/// reference engine's <see cref="IRunEngine"/> (its loop reads them), and the cluster engine's buffer until its
/// coordinator is up. A stop cancels <see cref="Stopping"/>, the same as Ctrl-C.
/// </summary>
public sealed class RunControl : IRunEngine, IDisposable
{
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _paused;
    private bool _checkpointRequested;
    private readonly Queue<SampleRequest> _sampleRequests = new();
    private readonly Queue<ChangeRequest> _changeRequests = new();

    /// <summary>Raised after every request, on the requester's thread.</summary>
    public event Action? Changed;

    /// <summary>Cancelled when a stop is requested; the loop reads it between steps.</summary>
    public CancellationToken Stopping => _stop.Token;

    /// <summary>Ask the run to stop after the current round, with a final evaluation, checkpoint and summary.</summary>
    public void Stop()
    {
        _stop.Cancel();
        Changed?.Invoke();
    }

    /// <summary>Releases the stop token.</summary>
    public void Dispose() => _stop.Dispose();

    /// <summary>Whether the run is paused (or will pause after the round in progress).</summary>
    public bool IsPaused => _paused;

    /// <summary>Finish the current round, then wait for <see cref="Resume"/> (or a stop).</summary>
    public void Pause()
    {
        _paused = true;
        Changed?.Invoke();
    }

    /// <summary>Continue after <see cref="Pause"/>.</summary>
    public void Resume()
    {
        _paused = false;
        Changed?.Invoke();
    }

    /// <summary>Write a checkpoint after the current round (also while paused).</summary>
    public void RequestCheckpoint()
    {
        lock (_gate) _checkpointRequested = true;
        Changed?.Invoke();
    }

    /// <summary>Samples from the generator as it is now, taken between rounds (or at once while paused).</summary>
    public Task<SampleBatch> RequestSamples(int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "sample count must be positive");
        var request = new SampleRequest(count);
        lock (_gate) _sampleRequests.Enqueue(request);
        Changed?.Invoke();
        return request.Task;
    }

    /// <summary>The pending sample requests, each to be completed by the engine.</summary>
    public IReadOnlyList<SampleRequest> TakeSampleRequests()
    {
        lock (_gate)
        {
            var requests = _sampleRequests.ToArray();
            _sampleRequests.Clear();
            return requests;
        }
    }

    /// <summary>Serves every pending sample request with <paramref name="produce"/> (engines that sample synchronously).</summary>
    public void ServeSampleRequests(Func<int, SampleBatch> produce)
    {
        foreach (var request in TakeSampleRequests())
        {
            try
            {
                request.Complete(produce(request.Count));
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                request.Fail(e);
            }
        }
    }

    /// <summary>
    /// A live change (<c>gan set</c>, <c>gan population add/remove</c>), applied by the engine after the current round
    /// (or at once while paused); the task ends with what was applied, or faults with the reason it was refused.
    /// </summary>
    public Task<ChangeReport> RequestChange(RunChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        var request = new ChangeRequest(change);
        lock (_gate) _changeRequests.Enqueue(request);
        Changed?.Invoke();
        return request.Task;
    }

    /// <summary>The pending change requests, in the order made, each to be completed by the engine.</summary>
    public IReadOnlyList<ChangeRequest> TakeChangeRequests()
    {
        lock (_gate)
        {
            var requests = _changeRequests.ToArray();
            _changeRequests.Clear();
            return requests;
        }
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
}

/// <summary>Generated samples, flattened: <see cref="Count"/> samples of <see cref="Shape"/> each (e.g. [2], [1, 28, 28]).</summary>
public sealed record SampleBatch(float[] Samples, long[] Shape, int Count);

/// <summary>One operator request for samples; the engine completes it.</summary>
public sealed class SampleRequest(int count)
{
    private readonly TaskCompletionSource<SampleBatch> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How many samples were asked for.</summary>
    public int Count { get; } = count;

    /// <summary>Completes with the samples, or fails with the reason the engine could not draw them.</summary>
    public Task<SampleBatch> Task => _done.Task;

    /// <summary>The engine's answer: the samples drawn.</summary>
    public void Complete(SampleBatch batch) => _done.TrySetResult(batch);

    /// <summary>The engine could not draw the samples: <paramref name="error"/> says why.</summary>
    public void Fail(Exception error) => _done.TrySetException(error);
}

/// <summary>One operator change; the engine completes it when applied, or fails it with the reason.</summary>
public sealed class ChangeRequest(RunChange change)
{
    private readonly TaskCompletionSource<ChangeReport> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The change asked for.</summary>
    public RunChange Change { get; } = change;

    /// <summary>Completes with the report of the applied change, or fails with the reason it was refused.</summary>
    public Task<ChangeReport> Task => _done.Task;

    /// <summary>The engine applied the change: <paramref name="report"/> says what and from which round.</summary>
    public void Complete(ChangeReport report) => _done.TrySetResult(report);

    /// <summary>The change was refused: <paramref name="error"/> says why.</summary>
    public void Fail(Exception error) => _done.TrySetException(error);
}
