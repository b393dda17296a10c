using Akka.Configuration;

namespace AkkaGan.Cluster;

/// <summary>The cluster.hocon this build ships with (embedded): Akka tuning, the serializer binding and akkagan.* defaults.</summary>
public static class AkkaGanConfig
{
    /// <summary>The embedded file's HOCON text, unparsed (the settings loader parses it itself to name it in errors).</summary>
    /// <exception cref="InvalidOperationException">The build does not embed cluster.hocon.</exception>
    public static string Text()
    {
        using var stream = typeof(AkkaGanConfig).Assembly.GetManifestResourceStream("cluster.hocon")
            ?? throw new InvalidOperationException("cluster.hocon is not embedded in this build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The embedded file parsed into a fresh <see cref="Config"/>: the fallback under a node's or a spec's own settings.</summary>
    /// <exception cref="InvalidOperationException">The build does not embed cluster.hocon.</exception>
    public static Config Default() => ConfigurationFactory.ParseString(Text());
}
