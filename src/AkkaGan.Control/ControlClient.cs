using System.Net.Sockets;
using static AkkaGan.Control.ControlMessages;

namespace AkkaGan.Control;

/// <summary>What a request ended with: <see cref="Ok"/>, the host's <see cref="Error"/> and every output line.</summary>
public sealed record ControlResult(bool Ok, string? Error, IReadOnlyList<string> Lines);

/// <summary>
/// One connection to a control host, as the CLI uses it: connect (reads the hello), then run requests one at a time.
/// Unreachable hosts and lost connections are <see cref="ControlConnectionException"/>; a host that breaks the
/// protocol is <see cref="ControlProtocolException"/>.
/// </summary>
public sealed class ControlClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    private readonly ControlEndpoint _endpoint;
    private readonly int _maxFrameBytes;
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private int _lastId;

    private ControlClient(TcpClient tcp, Stream stream, ControlEndpoint endpoint, Hello hello, int maxFrameBytes)
    {
        _tcp = tcp;
        _stream = stream;
        _endpoint = endpoint;
        Hello = hello;
        _maxFrameBytes = maxFrameBytes;
    }

    /// <summary>The host's greeting: its protocol version, node name and palettes.</summary>
    public Hello Hello { get; }

    /// <summary>The name of the node that answered, as its hello reports it.</summary>
    public string Node => Hello.Node;

    /// <summary>The palettes the host serves, with their commands and arguments.</summary>
    public IReadOnlyList<PaletteDescriptor> Palettes => Hello.Palettes;

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/> with the default frame limit and reads the hello.</summary>
    public static Task<ControlClient> ConnectAsync(string host, int port, CancellationToken ct = default) =>
        ConnectAsync(new ControlEndpoint(host, port), ControlFraming.DefaultMaxFrameBytes, ct);

    /// <summary>Connects and reads the hello; refuses a host that speaks another protocol version.</summary>
    public static Task<ControlClient> ConnectAsync(ControlEndpoint endpoint, int maxFrameBytes, CancellationToken ct = default) =>
        ConnectAsync(endpoint, maxFrameBytes, null, ct);

    /// <summary>
    /// Connects (over TLS when <paramref name="tls"/> is given, trusting the host as it says) and reads the hello;
    /// refuses a host that speaks another protocol version. Bad TLS settings are an <see cref="ArgumentException"/>.
    /// </summary>
    public static async Task<ControlClient> ConnectAsync(ControlEndpoint endpoint, int maxFrameBytes, ControlClientTls? tls, CancellationToken ct = default)
    {
        _ = tls?.Resolve(); // bad settings fail before any connection
        var tcp = new TcpClient();
        try
        {
            try
            {
                await tcp.ConnectAsync(endpoint.Host, endpoint.Port, ct).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw new ControlConnectionException($"cannot reach control host {endpoint} ({Describe(ex)})", ex);
            }
            var stream = tls is null ? tcp.GetStream() : await tls.AuthenticateAsync(tcp.GetStream(), endpoint, ct).ConfigureAwait(false);
            var first = await ReadAsync(stream, endpoint, maxFrameBytes, ct).ConfigureAwait(false);
            var hello = first switch
            {
                null => throw new ControlConnectionException($"control host {endpoint} closed the connection before its hello" +
                                                             (tls is null ? " (does it serve TLS, akkagan.control.tls? then connect with --tls)" : "")),
                Hello h when h.Protocol != Protocol => throw new ControlProtocolException(
                    $"control host {endpoint} speaks {h.Protocol}, this client speaks {Protocol}"),
                Hello h => h,
                Done { Id: 0 } d => throw new ControlConnectionException($"control host {endpoint} refused the connection: {d.Error}", requestUnread: true),
                _ => throw new ControlProtocolException($"control host {endpoint} did not start with a hello"),
            };
            return new ControlClient(tcp, stream, endpoint, hello, maxFrameBytes);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs <c>palette command args</c>, calling <paramref name="onOutput"/> for each line as it arrives, and returns
    /// when the host sends done. A refused or failed command is <c>Ok = false</c>, not an exception.
    /// </summary>
    public async Task<ControlResult> ExecuteAsync(
        string palette, string command, IReadOnlyList<string> args, string? token = null,
        Action<string>? onOutput = null, CancellationToken ct = default)
    {
        await _oneAtATime.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var id = ++_lastId;
            try
            {
                await ControlFraming.WriteFrameAsync(_stream, new Request(id, palette, command, args, token), _maxFrameBytes, ct)
                    .ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                throw new ControlConnectionException($"lost the connection to control host {_endpoint}: {ex.Message}", ex);
            }
            var lines = new List<string>();
            while (true)
            {
                switch (await ReadAsync(_stream, _endpoint, _maxFrameBytes, ct).ConfigureAwait(false))
                {
                    case Output o when o.Id == id:
                        lines.Add(o.Text);
                        onOutput?.Invoke(o.Text);
                        break;
                    case Done d when d.Id == id:
                        return new ControlResult(d.Ok, d.Error, lines);
                    case Done { Id: 0 } d:
                        // Id 0 answers no request: the host says why it closed the connection, before it read this one.
                        throw new ControlConnectionException($"control host {_endpoint} closed the connection: {d.Error}", requestUnread: true);
                    case null:
                        throw new ControlConnectionException($"control host {_endpoint} closed the connection during request {id}");
                    case var other:
                        throw new ControlProtocolException($"control host {_endpoint} sent an unexpected {other.GetType().Name} during request {id}");
                }
            }
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    /// <summary>Closes the connection to the host.</summary>
    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _tcp.Dispose();
        _oneAtATime.Dispose();
        return ValueTask.CompletedTask;
    }

    private static async Task<ControlMessage?> ReadAsync(Stream stream, ControlEndpoint endpoint, int maxFrameBytes, CancellationToken ct)
    {
        try
        {
            return await ControlFraming.ReadFrameAsync(stream, maxFrameBytes, ct).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new ControlConnectionException($"lost the connection to control host {endpoint}: {ex.Message}", ex);
        }
    }

    private static string Describe(SocketException ex) => ex.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.HostNotFound or SocketError.NoData => "host not found",
        SocketError.TimedOut => "timed out",
        SocketError.NetworkUnreachable or SocketError.HostUnreachable => "unreachable",
        _ => ex.Message,
    };
}
