using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace AkkaGan.Core.Diagnostics;

/// <summary>
/// A process's memory over time, for <c>akkagan bench soak</c>. Off unless the environment variable
/// <see cref="Variable"/> names a folder when the process starts; then a timer writes one line every
/// <see cref="IntervalVariable"/> seconds (default 1) to <c>memory-PID.tsv</c> there: the time (Unix seconds, so the files of processes on one machine line up), the
/// newest round this process has worked on, the resident set, the managed heap after the last collection, the memory
/// the GC has committed, the live TorchSharp tensors, the threads, the collections of each generation, and glibc's
/// malloc (which allocates every CPU tensor): the bytes its arenas hand out and the free bytes they hold (mallinfo2;
/// NaN off glibc), which tell native memory in use from native memory kept by fragmentation. A sample costs
/// microseconds (no collection, no managed heap walk), so the trace does not change what it measures.
/// </summary>
public static class MemoryTrace
{
    /// <summary>The environment variable naming the trace file; unset, nothing is traced.</summary>
    public const string Variable = "AKKAGAN_MEMORY_TRACE";
    /// <summary>The environment variable with the seconds between samples.</summary>
    public const string IntervalVariable = "AKKAGAN_MEMORY_TRACE_INTERVAL";

    /// <summary>The columns of a trace file, in order (its first line).</summary>
    public static readonly string[] Columns =
        ["unix_seconds", "round", "rss_mb", "managed_mb", "committed_mb", "live_tensors", "threads", "gen0", "gen1", "gen2", "malloc_used_mb", "malloc_free_mb"];

    private static long _round = -1;
    private static readonly Sampler? Active = Sampler.Open();

    /// <summary>Whether this process writes a trace.</summary>
    public static bool Enabled => Active is not null;

    /// <summary>Notes that this process is working on <paramref name="round"/> (a volatile write; callers need no check).</summary>
    public static void Observe(long round) => Volatile.Write(ref _round, round);

    /// <summary>The process's memory now, as one line of <see cref="Columns"/>.</summary>
    public static string Sample()
    {
        var info = GC.GetGCMemoryInfo();
        using var self = Process.GetCurrentProcess();
        return string.Create(CultureInfo.InvariantCulture,
            $"{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0:F3}\t{Volatile.Read(ref _round)}\t{self.WorkingSet64 / 1048576.0:F1}\t{info.HeapSizeBytes / 1048576.0:F1}\t" +
            $"{info.TotalCommittedBytes / 1048576.0:F1}\t{TorchSharp.torch.Tensor.TotalCount}\t{self.Threads.Count}\t" +
            $"{GC.CollectionCount(0)}\t{GC.CollectionCount(1)}\t{GC.CollectionCount(2)}\t{Malloc.Used / 1048576.0:F1}\t{Malloc.Free / 1048576.0:F1}");
    }

    /// <summary>
    /// glibc's malloc now: <c>Used</c>, the bytes handed out (arena chunks and mmapped blocks); <c>Free</c>, the bytes its
    /// arenas hold free (resident or not: <c>malloc_trim</c> returns the pages, not the address space). NaN off glibc.
    /// </summary>
    public static (double Used, double Free) Malloc
    {
        get
        {
            if (!OperatingSystem.IsLinux()) return (double.NaN, double.NaN);
            try
            {
                var info = MallInfo2();
                return ((double)(info.Uordblks + info.Hblkhd), info.Fordblks);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                return (double.NaN, double.NaN);
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2Struct
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2Struct MallInfo2();

    private sealed class Sampler : IDisposable
    {
        private readonly Lock _gate = new();
        private readonly StreamWriter _writer;
        private readonly Timer _timer;

        private Sampler(StreamWriter writer, TimeSpan interval)
        {
            _writer = writer;
            _writer.WriteLine(string.Join('\t', Columns));
            _writer.Flush();
            _timer = new Timer(_ => Write(), null, TimeSpan.Zero, interval);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Dispose();
        }

        /// <summary>Writes a last sample and closes the file (at process exit).</summary>
        public void Dispose()
        {
            _timer.Dispose();
            Write();
            lock (_gate) _writer.Dispose();
        }

        public static Sampler? Open()
        {
            if (Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 } folder) return null;
            var seconds = 1.0;
            if (Environment.GetEnvironmentVariable(IntervalVariable) is { Length: > 0 } text
                && (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out seconds) || !(seconds >= 0.01)))
                throw new ArgumentException($"{IntervalVariable}: '{text}' is not a number of seconds (at least 0.01)");
            Directory.CreateDirectory(folder);
            var writer = new StreamWriter(Path.Combine(folder, $"memory-{Environment.ProcessId}.tsv"));
            return new Sampler(writer, TimeSpan.FromSeconds(seconds));
        }

        private void Write()
        {
            var line = Sample();
            lock (_gate)
            {
                try
                {
                    _writer.WriteLine(line);
                    _writer.Flush(); // a killed process loses at most the sample being written
                }
                catch (ObjectDisposedException)
                {
                    // the process is exiting
                }
            }
        }
    }
}
