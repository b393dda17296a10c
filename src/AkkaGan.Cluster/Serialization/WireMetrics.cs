using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AkkaGan.Cluster.Serialization;

/// <summary>
/// What crosses the wire between nodes, on the meter <see cref="MeterName"/>: bytes and messages the
/// <see cref="AkkaGanSerializer"/> wrote (<c>direction=out</c>) and read (<c>direction=in</c>), by message type. Akka.NET
/// serializes only what leaves the process, so a one-node run counts nothing here.
/// </summary>
public static class WireMetrics
{
    /// <summary>The meter's name: what an exporter's <c>AddMeter</c> subscribes to.</summary>
    public const string MeterName = "AkkaGan.Wire";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Bytes = Meter.CreateCounter<long>("akkagan.wire.bytes", "By", "Bytes of AkkaGan messages serialized (out) and deserialized (in)");
    private static readonly Counter<long> Messages = Meter.CreateCounter<long>("akkagan.wire.messages", "{message}", "AkkaGan messages serialized (out) and deserialized (in)");

    internal static void Out(string manifest, long bytes) => Record("out", manifest, bytes);

    internal static void In(string manifest, long bytes) => Record("in", manifest, bytes);

    private static void Record(string direction, string manifest, long bytes)
    {
        if (!Bytes.Enabled) return;
        var tags = new TagList { { "direction", direction }, { "message", manifest } };
        Bytes.Add(bytes, tags);
        Messages.Add(1, tags);
    }
}
