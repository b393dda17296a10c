using Akka.Actor;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Node.Cli;

/// <summary>
/// The cluster engine's <see cref="IRunEngine"/>: each request goes to the coordinator singleton as a message (it acts
/// between rounds), samples come from the generator entity directly. Requests made before the cluster can train (it
/// is forming, or this node stands by) wait in a <see cref="RunControl"/> and are handed over once, when it starts.
/// </summary>
internal sealed class ClusterSteering : IRunEngine, IDisposable
{
    /// <summary>How long an operator's change may wait for the round in progress (and a new member's creation).</summary>
    private static readonly TimeSpan ChangeTimeout = TimeSpan.FromMinutes(5);

    private readonly RunControl _before = new();
    private readonly Lock _gate = new();
    private IActorRef? _coordinator;
    private Func<int, Task<SampleBatch>>? _sample;

    public bool IsPaused => _before.IsPaused;

    public CancellationToken Stopping => _before.Stopping;

    public void Pause() => Forward(_before.Pause, new C.PauseTraining());

    public void Resume() => Forward(_before.Resume, new C.ResumeTraining());

    public void RequestCheckpoint()
    {
        lock (_gate)
        {
            if (_coordinator is null) _before.RequestCheckpoint();
            else _coordinator.Tell(new C.CheckpointNow());
        }
    }

    public Task<ChangeReport> RequestChange(RunChange change)
    {
        lock (_gate) return _coordinator is { } coordinator ? ChangeAsync(coordinator, change) : _before.RequestChange(change);
    }

    public Task<SampleBatch> RequestSamples(int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "sample count must be positive");
        lock (_gate) return _sample is { } sample ? sample(count) : _before.RequestSamples(count);
    }

    /// <summary>A stop: the engine's token (which the cluster engine turns into <see cref="C.StopTraining"/>) is cancelled.</summary>
    public void Stop() => _before.Stop();

    /// <summary>The cluster trains: what was asked meanwhile goes to <paramref name="coordinator"/>, and from now on every request.</summary>
    public void Attach(IActorRef coordinator, Func<int, Task<SampleBatch>> sample)
    {
        lock (_gate)
        {
            _coordinator = coordinator;
            _sample = sample;
            if (_before.IsPaused) coordinator.Tell(new C.PauseTraining());
            if (_before.TakeCheckpointRequest()) coordinator.Tell(new C.CheckpointNow());
            foreach (var request in _before.TakeChangeRequests()) ChangeAsync(coordinator, request.Change).ContinueWith(t =>
            {
                if (t.IsCompletedSuccessfully) request.Complete(t.Result);
                else request.Fail(t.Exception!.InnerException!);
            }, TaskScheduler.Default);
            foreach (var request in _before.TakeSampleRequests()) sample(request.Count).ContinueWith(t =>
            {
                if (t.IsCompletedSuccessfully) request.Complete(t.Result);
                else request.Fail(t.Exception?.InnerException ?? new InvalidOperationException("sampling failed"));
            }, TaskScheduler.Default);
        }
    }

    public void Dispose() => _before.Dispose();

    private void Forward(Action before, object message)
    {
        lock (_gate)
        {
            before(); // the state IsPaused reports, and what a coordinator attached later takes
            _coordinator?.Tell(message);
        }
    }

    /// <summary>The coordinator applies a change between rounds, in the order made; its answer completes the task.</summary>
    private static async Task<ChangeReport> ChangeAsync(IActorRef coordinator, RunChange change)
    {
        object answer;
        try
        {
            answer = await coordinator.Ask<object>(new C.ChangeRun(change), ChangeTimeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            throw new TimeoutException($"the coordinator did not apply the change within {ChangeTimeout}");
        }
        return answer switch
        {
            C.RunChanged changed => changed.Report,
            C.ChangeRefused refused => throw new SettingsException(refused.Reason),
            _ => throw new InvalidOperationException($"the coordinator answered {answer.GetType().Name}"),
        };
    }
}
