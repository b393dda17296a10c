using System.Diagnostics;
using System.Globalization;
using AkkaGan.Core.Diagnostics;

namespace AkkaGan.Cluster.Diagnostics;

/// <summary>
/// Timestamps of a round's hand-offs between the coordinator, the generator and the discriminators, for
/// <c>akkagan bench engines --trace</c>, which reports the median time of each hop. Off (one null check per mark)
/// unless the environment variable <see cref="Variable"/> names a folder when the process starts; then every process
/// writes <c>ticks round event</c> lines to <c>trace-PID.tsv</c> there. Ticks are <see cref="Stopwatch"/>'s, the
/// system's monotonic clock, so the lines of processes on one machine compare with each other.
/// </summary>
public static class RoundTrace
{
    /// <summary>The environment variable naming the trace folder.</summary>
    public const string Variable = "AKKAGAN_ROUND_TRACE";

    private static readonly Lock Gate = new();
    private static readonly StreamWriter? Writer = Open();

    /// <summary>Whether this process writes a trace.</summary>
    public static bool Enabled => Writer is not null;

    /// <summary>Records that <paramref name="what"/> happened in <paramref name="round"/> now (and tells <see cref="MemoryTrace"/> the round).</summary>
    public static void Mark(string what, long round)
    {
        MemoryTrace.Observe(round);
        if (Writer is null) return;
        var ticks = Stopwatch.GetTimestamp();
        lock (Gate) Writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{ticks}\t{round}\t{what}"));
    }

    private static StreamWriter? Open()
    {
        if (Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 } folder) return null;
        Directory.CreateDirectory(folder);
        var writer = new StreamWriter(Path.Combine(folder, $"trace-{Environment.ProcessId}.tsv")) { AutoFlush = false };
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (Gate) writer.Flush();
        };
        // A process that is killed loses at most the last second of lines.
        _ = new Timer(_ =>
        {
            lock (Gate) writer.Flush();
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        return writer;
    }

    /// <summary>One hop of a round: from event <paramref name="From"/> to event <paramref name="To"/>.</summary>
    public sealed record Hop(string From, string To, string Meaning);

    /// <summary>A round's hand-offs in order, as the cluster engine marks them.</summary>
    public static readonly IReadOnlyList<Hop> Hops =
    [
        new("c.next", "r.play", "coordinator -> round child"),
        new("r.play", "g.round", "round child -> generator (shard region)"),
        new("g.round", "g.critics-sent", "generator: critic batches made and sent"),
        new("g.critics-sent", "g.x-fake-sent", "generator: x_fake made and sent"),
        new("g.critics-sent", "d.critic", "critic batch -> discriminator (shard region)"),
        new("d.critic", "d.critic-done", "discriminator: critic steps"),
        new("d.critic-done", "d.feedback", "discriminator: to the feedback request"),
        new("d.feedback", "d.feedback-sent", "discriminator: feedback (unrolled lookahead)"),
        new("d.feedback-sent", "g.feedback", "feedback -> generator"),
        new("g.feedback", "g.stepped", "generator: aggregate, backward, step"),
        new("g.stepped", "r.answers", "generator -> round child"),
        new("r.answers", "c.played", "round child -> coordinator"),
        new("c.played", "c.next", "coordinator: schedule to the next round"),
    ];

    /// <summary>
    /// Median and mean milliseconds of each hop over the rounds from <paramref name="from"/> on that have every event
    /// (the first of an event per round, the last of a "-done"), read from the trace files in <paramref name="folder"/>;
    /// the last row is the whole round (c.next to the next c.next).
    /// </summary>
    public static IReadOnlyList<(string Hop, double Median, double Mean)> Summarize(string folder, long from)
    {
        var events = new Dictionary<long, Dictionary<string, long>>();
        foreach (var file in Directory.GetFiles(folder, "trace-*.tsv"))
            foreach (var line in File.ReadLines(file))
            {
                var parts = line.Split('\t');
                if (parts.Length != 3 || !long.TryParse(parts[0], CultureInfo.InvariantCulture, out var ticks)
                    || !long.TryParse(parts[1], CultureInfo.InvariantCulture, out var round) || round < from) continue;
                var marks = events.TryGetValue(round, out var e) ? e : events[round] = [];
                if (!marks.ContainsKey(parts[2]) || parts[2].EndsWith("-done", StringComparison.Ordinal)) marks[parts[2]] = ticks;
            }
        var names = Hops.SelectMany(h => new[] { h.From, h.To }).Distinct().ToArray();
        var complete = events.Where(e => names.All(e.Value.ContainsKey) && events.TryGetValue(e.Key + 1, out var next) && next.ContainsKey("c.next"))
            .Select(e => e.Key).Order().ToArray();
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        (double, double) Stats(IEnumerable<long> ticks)
        {
            var ms = ticks.Select(Ms).Order().ToArray();
            return ms.Length == 0 ? (double.NaN, double.NaN) : (ms[ms.Length / 2], ms.Average());
        }
        var rows = new List<(string, double, double)>();
        foreach (var hop in Hops)
        {
            var to = hop.To == "c.next" ? complete.Select(r => events[r + 1]["c.next"] - events[r][hop.From]) : complete.Select(r => events[r][hop.To] - events[r][hop.From]);
            var (median, mean) = Stats(to);
            rows.Add(($"{hop.From} -> {hop.To}: {hop.Meaning}", median, mean));
        }
        var (m, a) = Stats(complete.Select(r => events[r + 1]["c.next"] - events[r]["c.next"]));
        rows.Add(($"whole round ({complete.Length} rounds)", m, a));
        return rows;
    }
}
