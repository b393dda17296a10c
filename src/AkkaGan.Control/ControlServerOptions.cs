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

    /// <summary>Shared secret every request must carry; empty means none (loopback only). It allows every command.</summary>
    public string Token { get; init; } = "";

    /// <summary>
    /// A second secret that allows only the read-only commands (<see cref="CommandDescriptor.ReadOnly"/>: status, watch,
    /// health, cluster show, ...); empty means none. It needs <see cref="Token"/> and must differ from it.
    /// </summary>
    public string ReadOnlyToken { get; init; } = "";

    /// <summary>A connection with no request in flight for this long is closed, with a done frame saying why.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How long a frame may take to arrive whole once its first byte came, and an answer to be taken by the client: a
    /// client that sends or reads slower is disconnected, so it cannot hold a connection (or a command's output) hostage.
    /// </summary>
    public TimeSpan SlowClientTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How many connections the host serves at once; one more is told so and closed.</summary>
    public int MaxConnections { get; init; } = 16;

    /// <summary>Where the host reports connections it closed or refused (idle, slow, over the limit, unauthorized); null: nowhere.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// The host's TLS certificate, with its private key: every connection is TLS (1.2 or 1.3) from its first byte, and
    /// clients trust the host by this certificate (<see cref="ControlClientTls"/>). Null: plain TCP.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; init; }

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
        if (IdleTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"control host {Host}:{Port}: the idle timeout must be positive (got {IdleTimeout})");
        if (SlowClientTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"control host {Host}:{Port}: the slow-client timeout must be positive (got {SlowClientTimeout})");
        if (MaxConnections < 1)
            throw new ArgumentException($"control host {Host}:{Port}: at least one connection must be allowed (got {MaxConnections})");
        if (Certificate is { HasPrivateKey: false })
            throw new ArgumentException($"control host {Host}:{Port}: the TLS certificate {Certificate.Subject} holds no private key");
        if (Token.Length == 0 && !IsLoopback(Host))
            throw new ControlSecurityException(
                $"control host {Host}:{Port}: binding a non-loopback address needs a token (akkagan.control.token-file or AKKAGAN_CONTROL_TOKEN)");
        if (ReadOnlyToken.Length > 0 && Token.Length == 0)
            throw new ControlSecurityException(
                $"control host {Host}:{Port}: a read-only token needs an operator token too (without one, every command is open to anyone who can connect)");
        if (ReadOnlyToken.Length > 0 && ReadOnlyToken == Token)
            throw new ControlSecurityException($"control host {Host}:{Port}: the read-only token is the operator token; give them different values");
    }

    /// <summary>True for <c>localhost</c>, 127.0.0.0/8 and ::1.</summary>
    public static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));

    internal IPAddress BindAddress() =>
        string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(Host);
}
