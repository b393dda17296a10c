using System.Collections.Concurrent;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// One long-lived thread per process that computes evaluation metrics, off the actor threads and the thread pool (an
/// image evaluation runs a classifier over thousands of samples for seconds). Until session 18 every evaluation
/// started a thread of its own (<c>TaskCreationOptions.LongRunning</c>), and the process kept native memory from each
/// of them after it ended: a ring8 run evaluating every 100 rounds grew from 450 to 1,020 MB in 4,000
/// rounds, the reference engine (one thread) not at all (docs/engines.md, "Memory over long runs").
/// The process does not end under a computation: at exit the thread finishes the one in progress (at most
/// <see cref="ExitWait"/>) and takes no more, so libtorch's static destructors never run beside a tensor operation
/// (the suspect of a test process that crashed with SIGSEGV after its last test had passed).
/// </summary>
internal static class MetricsThread
{
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(30);
    private static readonly BlockingCollection<Action> Work = [];
    private static readonly Lazy<Thread> Worker = new(() =>
    {
        var thread = new Thread(() =>
        {
            foreach (var work in Work.GetConsumingEnumerable()) work();
        }) { IsBackground = true, Name = "akkagan-metrics" };
        thread.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            Work.CompleteAdding();
            thread.Join(ExitWait);
        };
        return thread;
    });

    /// <summary>Runs <paramref name="compute"/> on the metrics thread, after whatever was queued before it.</summary>
    public static Task<T> Run<T>(Func<T> compute)
    {
        _ = Worker.Value;
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
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
        }
        catch (InvalidOperationException)
        {
            done.SetException(new OperationCanceledException("the process is exiting"));
        }
        return done.Task;
    }
}
