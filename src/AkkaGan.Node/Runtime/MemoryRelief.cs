using System.Diagnostics;
using System.Globalization;
using System.Runtime;

namespace AkkaGan.Node.Runtime;

/// <summary>
/// Gives a long-running process's memory back after its rare, heavy work, so that its resident set follows what it
/// trains with and not the peak of an evaluation or a checkpoint. A background thread wakes every
/// <see cref="Interval"/> and
/// <list type="bullet">
/// <item>collects the managed heap fully (compacting the large-object heap, decommitting what is free) when it holds
/// more than <see cref="GarbageAllowance"/> beyond what the last full collection found live: a checkpoint copies every
/// tensor into arrays several times (snapshots, the file, the state store) and the GC, with memory to spare, left
/// ~150 MB of them in a Fashion-MNIST process until the next collection of its oldest generation, often thousands of
/// rounds later;</item>
/// <item>returns glibc's free pages to the kernel (<see cref="NativeAllocator.Trim"/>): the trim threshold that keeps a
/// step's pages between steps also kept, for good, the peak of an image evaluation (2,500 samples through the
/// generator, the classifier and the embedding), about twice the training working set of a Fashion-MNIST process.</item>
/// </list>
/// A round's own short-lived arrays do not reach the large-object heap: <c>System.GC.LOHThreshold</c> is 4 MiB in
/// <c>akkagan.runtimeconfig.json</c> (a batch of 64 RGB 64x64 images on the wire), so they die in generation 0.
/// Measured in docs/engines.md, "Memory over long runs".
/// </summary>
internal static class MemoryRelief
{
    /// <summary>The environment variable with the seconds between two checks; 0 turns the thread off.</summary>
    public const string IntervalVariable = "AKKAGAN_MEMORY_RELIEF_SECONDS";

    /// <summary>Managed bytes beyond the last full collection's live heap that are left to the GC's own schedule.</summary>
    public const long GarbageAllowance = 48L << 20;

    /// <summary>Seconds between two checks (<see cref="IntervalVariable"/> overrides the default of 10).</summary>
    public static TimeSpan Interval { get; private set; } = TimeSpan.FromSeconds(10);

    private static readonly AutoResetEvent Wake = new(false);
    private static long _collections;
    private static long _collectionTicks;
    private static long _trims;
    private static long _trimTicks;

    /// <summary>Full collections this thread asked for, trims, and the milliseconds each kind took in all.</summary>
    public static (long Collections, double CollectionMs, long Trims, double TrimMs) Totals =>
        (Interlocked.Read(ref _collections), Interlocked.Read(ref _collectionTicks) / (double)TimeSpan.TicksPerMillisecond,
         Interlocked.Read(ref _trims), Interlocked.Read(ref _trimTicks) / (double)TimeSpan.TicksPerMillisecond);

    /// <summary>
    /// Starts the thread (once, from Main). A value of <see cref="IntervalVariable"/> that is not a number of seconds
    /// from 0 to 86400 is reported and the default kept.
    /// </summary>
    public static void Start()
    {
        if (Environment.GetEnvironmentVariable(IntervalVariable) is { Length: > 0 } text)
        {
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 0 and <= 86400)
                Interval = TimeSpan.FromSeconds(seconds);
            else
                Console.Error.WriteLine($"akkagan: warning: {IntervalVariable}='{text}' is not a number of seconds from 0 to 86400; " +
                                        $"keeping {Interval.TotalSeconds:0} s");
        }
        if (Interval <= TimeSpan.Zero) return;
        new Thread(Loop) { IsBackground = true, Name = "akkagan-memory-relief", Priority = ThreadPriority.BelowNormal }.Start();
    }

    /// <summary>
    /// Asks the thread to check now rather than at its next interval: called after an evaluation, a checkpoint or a
    /// control command's samples, so the memory they used goes back within a moment instead of up to
    /// <see cref="Interval"/> later (a Fashion-MNIST evaluation's 1-2 GB for up to 10 s). Cheap, and a no-op when the
    /// thread is off.
    /// </summary>
    public static void Request() => Wake.Set();

    /// <summary>Observes a run: requests a check after each evaluation and checkpoint (put it last, after the outputs).</summary>
    public sealed class Observer : AkkaGan.Core.Training.ITrainingObserver
    {
        /// <inheritdoc />
        public void OnEvaluation(AkkaGan.Core.Training.EvaluationReport report) => Request();
        /// <inheritdoc />
        public void OnCheckpoint(long round, string path) => Request();
    }

    private static void Loop()
    {
        var live = GC.GetTotalMemory(forceFullCollection: false);
        while (true)
        {
            _ = Wake.WaitOne(Interval);
            if (GC.GetGCMemoryInfo().HeapSizeBytes > live + GarbageAllowance)
            {
                var started = Stopwatch.GetTimestamp();
                GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                live = GC.GetGCMemoryInfo().HeapSizeBytes;
                Interlocked.Add(ref _collectionTicks, Stopwatch.GetElapsedTime(started).Ticks);
                Interlocked.Increment(ref _collections);
            }
            var trimmed = Stopwatch.GetTimestamp();
            if (!NativeAllocator.Trim()) continue;
            Interlocked.Add(ref _trimTicks, Stopwatch.GetElapsedTime(trimmed).Ticks);
            Interlocked.Increment(ref _trims);
        }
    }
}
