using System.Diagnostics;
using System.Globalization;

namespace AkkaGan.Core.Diagnostics;

/// <summary>
/// A process's memory over time, for <c>akkagan bench soak</c>. Off unless the environment variable
/// <see cref="Variable"/> names a folder when the process starts; then a timer writes one line every
/// <see cref="IntervalVariable"/> seconds (default 1) to <c>memory-PID.tsv</c> there: the time (Unix seconds, so the files of processes on one machine line up), the
/// newest round this process has worked on, the resident set, the managed heap after the last collection, the memory
/// the GC has committed, the live TorchSharp tensors, the threads and the collections of each generation. A sample costs
/// a few microseconds (no collection, no heap walk), so the trace does not change what it measures.
/// </summary>
public static class MemoryTrace
{
    /// <summary>The environment variable naming the trace file; unset, nothing is traced.</summary>
    public const string Variable = "AKKAGAN_MEMORY_TRACE";
    /// <summary>The environment variable with the seconds between samples.</summary>
    public const string IntervalVariable = "AKKAGAN_MEMORY_TRACE_INTERVAL";

    /// <summary>The columns of a trace file, in order (its first line).</summary>
    public static readonly string[] Columns =
        ["unix_seconds", "round", "rss_mb", "managed_mb", "committed_mb", "live_tensors", "threads", "gen0", "gen1", "gen2"];

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
            $"{GC.CollectionCount(0)}\t{GC.CollectionCount(1)}\t{GC.CollectionCount(2)}");
    }

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
