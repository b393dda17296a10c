using Akka.Configuration;
using AkkaGan.Core.Settings;

namespace AkkaGan.Cluster.Hosting;

/// <summary>
/// How a node started without seed nodes finds its cluster (<c>akkagan.discovery</c>, <c>--discovery</c>,
/// <c>--contact-points</c>): an Akka.Discovery method lists the contact points (the Akka.Remote addresses of the
/// cluster's nodes), and <see cref="SeedDiscovery"/> joins the members one of them answers with, or forms the cluster
/// on the contact point with the lowest address once <see cref="RequiredContactPoints"/> of them answer and the set has
/// held still for <see cref="StableMargin"/> (the decision Akka.Management's Cluster Bootstrap makes).
/// </summary>
/// <param name="Method">
/// The Akka.Discovery method: <c>config</c> (<see cref="ContactPoints"/>), <c>dns</c> (the A/AAAA records of
/// <see cref="ServiceName"/>, e.g. a Kubernetes headless service or a compose service), or the name of any other
/// Akka.Discovery implementation configured under <c>akka.discovery.&lt;name&gt;</c>.
/// </param>
/// <param name="ServiceName">The service discovery looks up.</param>
/// <param name="ContactPoints">For <c>config</c>: the <c>HOST:PORT</c> of each node.</param>
/// <param name="Port">The Akka.Remote port of contact points found without one (DNS A records carry none); 0: this node's port.</param>
/// <param name="RequiredContactPoints">Contact points that must answer before the lowest forms a new cluster.</param>
/// <param name="StableMargin">How long the contact points found (and their answers) must stay the same before a new cluster is formed.</param>
/// <param name="ProbeInterval">Between two rounds of lookups and probes; also each probe's timeout.</param>
public sealed record DiscoverySettings(string Method, string ServiceName, IReadOnlyList<string> ContactPoints, int Port,
    int RequiredContactPoints, TimeSpan StableMargin, TimeSpan ProbeInterval)
{
    /// <summary>The HOCON section.</summary>
    public const string Section = "akkagan.discovery";

    /// <summary>The Akka.Discovery method name AkkaGan's DNS lookup (<see cref="DnsServiceDiscovery"/>) is registered under.</summary>
    public const string DnsMethod = "dns";

    /// <summary>
    /// The node's discovery from <c>akkagan.discovery</c> under the flags; null when no method is set (the node joins
    /// its seeds, or itself). <paramref name="contactPointsFlag"/> alone implies <c>config</c>. A bad value is a
    /// <see cref="SettingsException"/> naming its flag or key.
    /// </summary>
    public static DiscoverySettings? Bind(Config config, string? methodFlag, string? contactPointsFlag)
    {
        var method = (methodFlag ?? config.GetString($"{Section}.method", "") ?? "").Trim();
        var methodSource = methodFlag is null ? $"{Section}.method" : "--discovery";
        if (method.Length == 0 && contactPointsFlag is not null) method = "config";
        if (method.Length == 0) return null;
        if (method is not ("config" or DnsMethod) && !config.HasPath($"akka.discovery.{method}.class"))
            throw new SettingsException($"{methodSource}: unknown discovery method '{method}' (valid: config, dns, or an Akka.Discovery method " +
                                        $"configured under akka.discovery.{method} with its class)");
        var pointsSource = contactPointsFlag is null ? $"{Section}.contact-points" : "--contact-points";
        var points = contactPointsFlag is not null
            ? contactPointsFlag.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : Read(() => config.GetStringList($"{Section}.contact-points").ToArray(), $"{Section}.contact-points");
        foreach (var point in points)
            if (ContactPoint.TryParse(point) is null)
                throw new SettingsException($"{pointsSource}: '{point}' is not HOST:PORT (e.g. 10.0.0.5:4053)");
        if (method == "config" && points.Length == 0)
            throw new SettingsException($"{methodSource}: the config method needs the contact points (--contact-points HOST:PORT,... or {Section}.contact-points)");
        if (method != "config" && contactPointsFlag is not null)
            throw new SettingsException($"--contact-points: only the config method takes a list (the {method} method finds the contact points itself)");
        var serviceName = config.GetString($"{Section}.service-name", "") ?? "";
        if (serviceName.Trim().Length == 0) throw new SettingsException($"{Section}.service-name: empty (the name discovery looks up, e.g. akkagan)");
        var port = Read(() => config.GetInt($"{Section}.port"), $"{Section}.port");
        if (port is < 0 or > 65535) throw new SettingsException($"{Section}.port: {port} is not a TCP port (0: this node's own)");
        var required = Read(() => config.GetInt($"{Section}.required-contact-points"), $"{Section}.required-contact-points");
        if (required < 1) throw new SettingsException($"{Section}.required-contact-points: {required} (at least 1)");
        return new DiscoverySettings(method, serviceName.Trim(), points, port, required,
            Positive(config, "stable-margin"), Positive(config, "probe-interval"));
    }

    /// <summary>Akka.Discovery's own configuration for this method: the contact points as a config service, AkkaGan's DNS lookup.</summary>
    public string ToHocon()
    {
        var quoted = string.Join(", ", ContactPoints.Select(p => $"\"{p}\""));
        return $$"""
            akka.discovery.config.services."{{ServiceName}}".endpoints = [{{quoted}}]
            akka.discovery.{{DnsMethod}}.class = "{{typeof(DnsServiceDiscovery).AssemblyQualifiedName}}"
            """;
    }

    /// <summary>One line for the node's start message.</summary>
    public string Describe() => Method == "config"
        ? $"discovery config ({ContactPoints.Count} contact points, {RequiredContactPoints} required)"
        : $"discovery {Method} of '{ServiceName}' ({RequiredContactPoints} contact points required)";

    private static TimeSpan Positive(Config config, string key)
    {
        var path = $"{Section}.{key}";
        var value = Read(() => config.GetTimeSpan(path, null, allowInfinite: false), path);
        return value > TimeSpan.Zero ? value : throw new SettingsException($"{path} must be positive (got {value})");
    }

    private static T Read<T>(Func<T> read, string path)
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
}

/// <summary>A node's Akka.Remote endpoint as discovery names it; ordered by host, then port (the lowest forms the cluster).</summary>
public sealed record ContactPoint(string Host, int Port) : IComparable<ContactPoint>
{
    /// <summary><c>HOST:PORT</c> (an IPv6 host in brackets), or null when it is not one.</summary>
    public static ContactPoint? TryParse(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], out var port) || port is <= 0 or > 65535) return null;
        var host = text[..colon].Trim('[', ']');
        return host.Length == 0 ? null : new ContactPoint(host.ToLowerInvariant(), port);
    }

    /// <summary>By host (ordinal), then port.</summary>
    public int CompareTo(ContactPoint? other)
    {
        if (other is null) return 1;
        var byHost = string.CompareOrdinal(Host, other.Host);
        return byHost != 0 ? byHost : Port.CompareTo(other.Port);
    }

    /// <summary>The operators of the ordering (<see cref="CompareTo"/>).</summary>
    public static bool operator <(ContactPoint? left, ContactPoint? right) => Compare(left, right) < 0;

    /// <inheritdoc cref="op_LessThan"/>
    public static bool operator >(ContactPoint? left, ContactPoint? right) => Compare(left, right) > 0;

    /// <inheritdoc cref="op_LessThan"/>
    public static bool operator <=(ContactPoint? left, ContactPoint? right) => Compare(left, right) <= 0;

    /// <inheritdoc cref="op_LessThan"/>
    public static bool operator >=(ContactPoint? left, ContactPoint? right) => Compare(left, right) >= 0;

    private static int Compare(ContactPoint? left, ContactPoint? right) => left is null ? (right is null ? 0 : -1) : left.CompareTo(right);

    /// <summary><c>HOST:PORT</c>, as <see cref="TryParse"/> reads it.</summary>
    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
