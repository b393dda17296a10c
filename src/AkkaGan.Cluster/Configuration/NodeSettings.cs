using Akka.Configuration;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Control;
using AkkaGan.Core.Settings;

namespace AkkaGan.Cluster.Configuration;

/// <summary>The flags over a node's own settings (null: not given).</summary>
/// <param name="ControlToken">The operator token itself (<c>--control-token</c>: visible to every local user in <c>ps</c>, so it warns).</param>
/// <param name="ControlTokenFile">A file holding the operator token (<c>--control-token-file</c>).</param>
/// <param name="ControlReadOnlyTokenFile">A file holding the read-only token (<c>--control-read-only-token-file</c>).</param>
/// <param name="MetricsPort">The Prometheus scrape port (<c>--metrics-port</c>; 0: none).</param>
public sealed record NodeFlags(string? ControlHost = null, int? ControlPort = null, string? ControlToken = null, int? HealthPort = null,
    string? ControlTokenFile = null, string? ControlReadOnlyTokenFile = null, int? MetricsPort = null);

/// <summary>
/// The node's metrics export (<c>akkagan.metrics</c>): a Prometheus scrape endpoint on <paramref name="PrometheusHost"/>:
/// <paramref name="PrometheusPort"/> (0: none; <c>--metrics-port</c>) and/or an OTLP collector pushed to every
/// <paramref name="ExportInterval"/> (<paramref name="OtlpEndpoint"/> empty: none).
/// </summary>
public sealed record MetricsSettings(string PrometheusHost, int PrometheusPort, string OtlpEndpoint, TimeSpan ExportInterval);

/// <summary>Where the health endpoint listens (<c>akkagan.probes</c>, or <c>--health-port</c>).</summary>
public sealed record ProbeSettings(string Host, int Port);

/// <summary>
/// A node's own settings, apart from the training's: its control host (<c>akkagan.control</c>), health endpoint
/// (<c>akkagan.probes</c>), step timeout and rounds ahead (<c>akkagan.cluster</c>), state store (<c>akkagan.persistence</c>)
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

    /// <summary>The environment variable the read-only control token may come from.</summary>
    public const string ReadOnlyTokenVariable = "AKKAGAN_CONTROL_READ_ONLY_TOKEN";

    /// <summary>Whether the coordinator sends the next round ahead of the current one's result (<c>akkagan.cluster.play-ahead</c>).</summary>
    public bool PlayAhead { get; init; }

    /// <summary>The metrics export; null when neither a scrape port nor an OTLP endpoint is configured.</summary>
    public MetricsSettings? Metrics { get; init; }

    /// <summary>What the node should print at start about settings it took but advises against (a token given as a flag, a token file others can read).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <param name="nodeName">How the control host introduces itself.</param>
    /// <param name="runFolder">The run's output folder on the node that trains (its default SQLite store is there); null on other nodes.</param>
    /// <param name="environment">Reads an environment variable (default: the process's; specs pass their own).</param>
    public static NodeSettings Bind(Config config, NodeFlags flags, string nodeName, string? runFolder = null, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var warnings = new List<string>();
        if (flags.ControlToken is not null)
            warnings.Add("--control-token shows the token to every local user (ps, /proc); give it with --control-token-file FILE or " +
                         $"{TokenVariable} instead");
        var control = new ControlServerOptions
        {
            Host = flags.ControlHost ?? Text(config, "akkagan.control.host"),
            Port = flags.ControlPort ?? Int(config, "akkagan.control.port"),
            Token = Token(config, "akkagan.control.token", flags.ControlToken, "--control-token", flags.ControlTokenFile, "--control-token-file",
                environment(TokenVariable), TokenVariable, warnings),
            ReadOnlyToken = Token(config, "akkagan.control.read-only-token", null, "", flags.ControlReadOnlyTokenFile, "--control-read-only-token-file",
                environment(ReadOnlyTokenVariable), ReadOnlyTokenVariable, warnings),
            IdleTimeout = Duration(config, "akkagan.control.idle-timeout"),
            SlowClientTimeout = Duration(config, "akkagan.control.slow-client-timeout"),
            MaxConnections = Int(config, "akkagan.control.max-connections"),
            NodeName = nodeName,
            Certificate = ControlCertificate(config),
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
        return new NodeSettings(control, probes, stepTimeout, StateStore.From(config, runFolder), NodeTls.From(config))
        {
            Warnings = warnings,
            Metrics = BindMetrics(config, flags),
            PlayAhead = Switch(config, "akkagan.cluster.play-ahead"),
        };
    }

    /// <summary>
    /// A control token from, in order: its flag (<paramref name="flag"/> or the file <paramref name="flagFile"/>, not
    /// both), its environment variable, the file at <c>PATH-file</c> in the configuration, or the value at
    /// <paramref name="path"/> (not both). A file's content is trimmed (a trailing newline is not part of the token).
    /// </summary>
    private static string Token(Config config, string path, string? flag, string flagName, string? flagFile, string flagFileName, string? variable,
        string variableName, List<string> warnings)
    {
        if (flag is not null && flagFile is not null)
            throw new SettingsException($"{flagName} and {flagFileName}: give the token one way");
        if (flag is not null) return flag;
        if (flagFile is not null) return ReadToken(flagFile, flagFileName, warnings);
        if (NonEmpty(variable) is { } fromEnvironment) return fromEnvironment;
        var value = Text(config, path);
        var file = Text(config, path + "-file");
        if (value.Length > 0 && file.Length > 0)
            throw new SettingsException($"{path} and {path}-file are both set: give the token one way");
        return file.Length > 0 ? ReadToken(file, path + "-file", warnings) : value;
    }

    private static string ReadToken(string file, string source, List<string> warnings)
    {
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new SettingsException($"{source}: cannot read the token file {file} ({e.Message})");
        }
        var token = text.Trim();
        if (token.Length == 0) throw new SettingsException($"{source}: the token file {file} is empty");
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(file) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
            warnings.Add($"{source}: {file} can be read by other users; chmod 600 it (or defaultMode 0400 for a Kubernetes secret volume)");
        return token;
    }

    /// <summary>
    /// The control host's TLS certificate (<c>akkagan.control.tls</c>): its own PKCS#12 file, or the cluster's
    /// (<c>akkagan.tls</c>) when it names none; null when off.
    /// </summary>
    private static System.Security.Cryptography.X509Certificates.X509Certificate2? ControlCertificate(Config config)
    {
        if (!Switch(config, "akkagan.control.tls.enabled")) return null;
        var path = Text(config, "akkagan.control.tls.certificate");
        if (path.Length == 0)
            return NodeTls.From(config)?.Certificate ?? throw new SettingsException(
                "akkagan.control.tls.enabled: give akkagan.control.tls.certificate (a .pfx with its key), or turn on akkagan.tls to use the cluster's certificate");
        if (!File.Exists(path)) throw new SettingsException($"akkagan.control.tls.certificate: {path} not found");
        try
        {
            var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(path, Text(config, "akkagan.control.tls.password"));
            return certificate.HasPrivateKey ? certificate : throw new SettingsException($"akkagan.control.tls.certificate: {path} holds no private key");
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new SettingsException($"akkagan.control.tls.certificate: {path} cannot be read with akkagan.control.tls.password ({e.Message.Trim()})");
        }
    }

    private static MetricsSettings? BindMetrics(Config config, NodeFlags flags)
    {
        var port = flags.MetricsPort ?? Int(config, "akkagan.metrics.prometheus-port");
        if (port is < 0 or > 65535)
            throw new SettingsException($"{(flags.MetricsPort is null ? "akkagan.metrics.prometheus-port" : "--metrics-port")}: {port} is not a TCP port (1-65535, or 0 for none)");
        var otlp = Text(config, "akkagan.metrics.otlp-endpoint");
        if (otlp.Length > 0 && !(Uri.TryCreate(otlp, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            throw new SettingsException($"akkagan.metrics.otlp-endpoint: '{otlp}' is not an http(s) URL (e.g. http://otel-collector:4317)");
        var interval = Duration(config, "akkagan.metrics.export-interval");
        return port == 0 && otlp.Length == 0 ? null : new MetricsSettings(Text(config, "akkagan.metrics.prometheus-host"), port, otlp, interval);
    }

    private static TimeSpan Duration(Config config, string path)
    {
        var value = Parse(path, () => config.GetTimeSpan(path, null, allowInfinite: false));
        return value > TimeSpan.Zero ? value : throw new SettingsException($"{path} must be positive (got {value})");
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
        catch (Exception e) when (e is FormatException or ConfigurationException or InvalidCastException or OverflowException or NotSupportedException)
        {
            throw new SettingsException($"{path}: {e.Message}");
        }
    }

    private static SettingsException Missing(string path) => new($"{path} is not set (cluster.hocon has it; was it removed by an empty --config section?)");
}
