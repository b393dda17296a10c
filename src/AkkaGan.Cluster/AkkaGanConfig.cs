using Akka.Configuration;

namespace AkkaGan.Cluster;

/// <summary>The cluster.hocon this build ships with (embedded): Akka tuning, the serializer binding and akkagan.* defaults.</summary>
public static class AkkaGanConfig
{
    /// <summary>The file's text.</summary>
    public static string Text()
    {
        using var stream = typeof(AkkaGanConfig).Assembly.GetManifestResourceStream("cluster.hocon")
            ?? throw new InvalidOperationException("cluster.hocon is not embedded in this build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The file parsed.</summary>
    public static Config Default() => ConfigurationFactory.ParseString(Text());
}
