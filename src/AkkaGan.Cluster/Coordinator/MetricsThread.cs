using System.Collections.Concurrent;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// One long-lived thread per process that computes evaluation metrics, off the actor threads and the thread pool (an
/// image evaluation runs a classifier over thousands of samples for seconds). Until session 18 every evaluation
/// started a thread of its own (<c>TaskCreationOptions.LongRunning</c>), and the process kept native memory from each
/// of them after it ended: a ring8 run evaluating every 100 rounds grew from 450 to 1,020 MB in 4,000
/// rounds, the reference engine (one thread) not at all (docs/engines.md, "Memory over long runs").
/// </summary>
internal static class MetricsThread
{
    private static readonly BlockingCollection<Action> Work = [];
    private static readonly Lazy<Thread> Worker = new(() =>
    {
        var thread = new Thread(() =>
        {
            foreach (var work in Work.GetConsumingEnumerable()) work();
        }) { IsBackground = true, Name = "akkagan-metrics" };
        thread.Start();
        return thread;
    });

    /// <summary>Runs <paramref name="compute"/> on the metrics thread, after whatever was queued before it.</summary>
    public static Task<T> Run<T>(Func<T> compute)
    {
        _ = Worker.Value;
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Work.Add(() =>
        {
            try
            {
                done.SetResult(compute());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }
}
