using System.Globalization;

namespace AkkaGan.Control;

/// <summary>
/// A control host address as the CLI writes it: <c>HOST:PORT</c>, IPv6 in brackets (<c>[::1]:9120</c>).
/// </summary>
public sealed record ControlEndpoint(string Host, int Port)
{
    /// <summary>Parses <c>HOST:PORT</c>; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static ControlEndpoint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
            throw new FormatException($"'{text}' is not HOST:PORT");
        var host = text[..colon];
        var portText = text[(colon + 1)..];
        if (host.StartsWith('[') && host.EndsWith(']') && host.Length > 2)
            host = host[1..^1];
        else if (host.Contains(':', StringComparison.Ordinal))
            throw new FormatException($"'{text}' is not HOST:PORT (write an IPv6 host in brackets, e.g. [::1]:9120)");
        if (host.Length == 0 || host.Any(char.IsWhiteSpace))
            throw new FormatException($"'{text}' is not HOST:PORT: the host is empty or has spaces");
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new FormatException($"'{text}' is not HOST:PORT: port '{portText}' is not a number from 1 to 65535");
        return new ControlEndpoint(host, port);
    }

    /// <summary>HOST:PORT, with an IPv6 host in brackets: the form <c>Parse</c> reads back.</summary>
    public override string ToString() =>
        Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
