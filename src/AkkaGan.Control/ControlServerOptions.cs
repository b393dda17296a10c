using System.Net;

namespace AkkaGan.Control;

/// <summary>
/// Settings of one node's control host. The node fills it from <c>akkagan.control.*</c> (HOCON) and the
/// <c>--control-*</c> flags; <see cref="Validate"/> refuses a non-loopback bind without a token.
/// </summary>
public sealed record ControlServerOptions
{
    /// <summary>Address to bind: an IP literal or <c>localhost</c>.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (see <see cref="ControlServer.Port"/>).</summary>
    public int Port { get; init; } = 9120;

    /// <summary>Shared secret every request must carry; empty means none (loopback only).</summary>
    public string Token { get; init; } = "";

    /// <summary>Name the hello reports, so the operator sees which node answered.</summary>
    public string NodeName { get; init; } = Environment.MachineName;

    /// <summary>The largest frame the host reads or writes, in bytes (at least 1024); a client that sends a larger one is told why and disconnected.</summary>
    public int MaxFrameBytes { get; init; } = ControlFraming.DefaultMaxFrameBytes;

    /// <summary>Throws a readable error for settings the host must not start with.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host))
            throw new ArgumentException("control host: the bind address is empty");
        if (!IsLoopback(Host) && !IPAddress.TryParse(Host, out _))
            throw new ArgumentException($"control host {Host}: bind an IP address or localhost, not a host name");
        if (Port is < 0 or > 65535)
            throw new ArgumentException($"control host {Host}:{Port}: port must be 0..65535");
        if (MaxFrameBytes < 1024)
            throw new ArgumentException($"control host {Host}:{Port}: MaxFrameBytes {MaxFrameBytes} is below 1024");
        if (Token.Length == 0 && !IsLoopback(Host))
            throw new ControlSecurityException(
                $"control host {Host}:{Port}: binding a non-loopback address needs a token (akkagan.control.token or --control-token)");
    }

    /// <summary>True for <c>localhost</c>, 127.0.0.0/8 and ::1.</summary>
    public static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));

    internal IPAddress BindAddress() =>
        string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(Host);
}
