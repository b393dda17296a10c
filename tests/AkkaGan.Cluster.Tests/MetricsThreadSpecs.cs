using AkkaGan.Cluster.Coordinator;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// The coordinator's evaluations compute their metrics on one long-lived thread: a thread per evaluation left native
/// memory behind at every evaluation (docs/engines.md, "Memory over long runs").
/// </summary>
public sealed class MetricsThreadSpecs
{
    [Fact]
    public async Task Every_computation_should_run_on_the_same_named_thread_in_order_and_report_its_failure()
    {
        var order = new List<int>();
        var threads = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => MetricsThread.Run(() =>
        {
            lock (order) order.Add(i);
            return (Environment.CurrentManagedThreadId, Thread.CurrentThread.Name);
        })));
        Assert.Single(threads.Distinct());
        Assert.Equal("akkagan-metrics", threads[0].Name);
        Assert.NotEqual(Environment.CurrentManagedThreadId, threads[0].CurrentManagedThreadId);
        Assert.Equal([0, 1, 2, 3, 4], order);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => MetricsThread.Run<int>(() => throw new InvalidOperationException("bad samples")));
        Assert.Equal("bad samples", failure.Message);
        Assert.Equal(threads[0], await MetricsThread.Run(() => (Environment.CurrentManagedThreadId, Thread.CurrentThread.Name)));   // the thread survives a failure
    }
}
