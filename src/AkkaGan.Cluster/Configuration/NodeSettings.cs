using Akka.Configuration;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Control;
using AkkaGan.Core.Settings;

namespace AkkaGan.Cluster.Configuration;

/// <summary>The flags over a node's own settings (null: not given).</summary>
public sealed record NodeFlags(string? ControlHost = null, int? ControlPort = null, string? ControlToken = null, int? HealthPort = null);

/// <summary>Where the health endpoint listens (<c>akkagan.probes</c>, or <c>--health-port</c>).</summary>
public sealed record ProbeSettings(string Host, int Port);

/// <summary>
/// A node's own settings, apart from the training's: its control host (<c>akkagan.control</c>), health endpoint
/// (<c>akkagan.probes</c>), step timeout (<c>akkagan.cluster.step-timeout</c>), state store (<c>akkagan.persistence</c>)
/// and TLS (<c>akkagan.tls</c>). Bound once at start from the merged configuration (the built-in cluster.hocon, which
/// owns every default, under <c>--config</c>), the documented environment variable <see cref="TokenVariable"/> and the
/// flags (flag &gt; environment &gt; configuration), and validated once: a bad value fails the start, naming its key or flag,
/// before the node joins anything.
/// </summary>
/// <param name="Probes">Null: no health endpoint.</param>
/// <param name="Store">Null: no state store on this node.</param>
/// <param name="Tls">Null: plain TCP between nodes.</param>
public sealed record NodeSettings(ControlServerOptions Control, ProbeSettings? Probes, TimeSpan StepTimeout, StateStore? Store, NodeTls? Tls)
{
    /// <summary>The environment variable the control token may come from (akkagan-ctl reads it too).</summary>
    public const string TokenVariable = "AKKAGAN_CONTROL_TOKEN";

    /// <param name="nodeName">How the control host introduces itself.</param>
    /// <param name="runFolder">The run's output folder on the node that trains (its default SQLite store is there); null on other nodes.</param>
    /// <param name="environment">Reads an environment variable (default: the process's; specs pass their own).</param>
    public static NodeSettings Bind(Config config, NodeFlags flags, string nodeName, string? runFolder = null, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var control = new ControlServerOptions
        {
            Host = flags.ControlHost ?? Text(config, "akkagan.control.host"),
            Port = flags.ControlPort ?? Int(config, "akkagan.control.port"),
            Token = flags.ControlToken ?? NonEmpty(environment(TokenVariable)) ?? Text(config, "akkagan.control.token"),
            NodeName = nodeName,
        };
        try
        {
            control.Validate();
        }
        catch (Exception e) when (e is ArgumentException or ControlSecurityException)
        {
            throw new SettingsException(e.Message);
        }
        ProbeSettings? probes = null;
        if (flags.HealthPort is not null || Switch(config, "akkagan.probes.enabled"))
        {
            var port = flags.HealthPort ?? Int(config, "akkagan.probes.port");
            if (port is < 1 or > 65535)
                throw new SettingsException($"{(flags.HealthPort is null ? "akkagan.probes.port" : "--health-port")}: {port} is not a TCP port (1-65535)");
            probes = new ProbeSettings(Text(config, "akkagan.probes.host"), port);
        }
        var stepTimeout = config.GetTimeSpan("akkagan.cluster.step-timeout", null);
        if (stepTimeout <= TimeSpan.Zero) throw new SettingsException($"akkagan.cluster.step-timeout must be positive (got {stepTimeout})");
        return new NodeSettings(control, probes, stepTimeout, StateStore.From(config, runFolder), NodeTls.From(config));
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    // cluster.hocon, always underneath, holds every key: no fallback values here (a spec checks the file against Bind).
    private static string Text(Config config, string path) => config.GetString(path, null) ?? throw Missing(path);

    private static int Int(Config config, string path) => Parse(path, () => config.GetInt(path));

    private static bool Switch(Config config, string path) => Parse(path, () => config.GetBoolean(path));

    private static T Parse<T>(string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is FormatException or ConfigurationException or InvalidCastException or OverflowException)
        {
            throw new SettingsException($"{path}: {e.Message}");
        }
    }

    private static SettingsException Missing(string path) => new($"{path} is not set (cluster.hocon has it; was it removed by an empty --config section?)");
}
