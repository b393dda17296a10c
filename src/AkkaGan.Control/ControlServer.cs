using System.Collections.Concurrent;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;
using static AkkaGan.Control.ControlMessages;

namespace AkkaGan.Control;

/// <summary>
/// The control host of one node: listens on TCP, greets every connection with a hello listing its palettes, then
/// answers requests one at a time per connection (authorize, find palette and command, stream output, done). A
/// protocol error closes that connection only; disposing closes the listener and every connection.
/// <para>
/// Misbehaving clients cannot hold it: a connection idle past <see cref="ControlServerOptions.IdleTimeout"/>, a request
/// frame that does not arrive whole within <see cref="ControlServerOptions.SlowClientTimeout"/> of its first byte, and
/// an answer the client does not take within that time each close the connection (with a done frame of id 0 saying
/// why, where the client still reads); a connection beyond <see cref="ControlServerOptions.MaxConnections"/> is told so
/// and closed. With a <see cref="ControlServerOptions.ReadOnlyToken"/>, a request carrying it may run only the
/// commands marked <see cref="CommandDescriptor.ReadOnly"/>.
/// </para>
/// </summary>
public sealed class ControlServer : IAsyncDisposable
{
    private const string Unauthorized = "unauthorized: wrong or missing token";

    private readonly ControlServerOptions _options;
    private readonly Dictionary<string, IControlPalette> _palettes;
    private readonly Hello _hello;
    private readonly byte[] _tokenHash;
    private readonly byte[]? _readOnlyHash;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<TcpClient, Task> _connections = new();
    private readonly ConcurrentDictionary<Task, byte> _requests = new();
    private TcpListener? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private volatile bool _closing;

    /// <summary>
    /// A host for <paramref name="palettes"/> (each name once; <see cref="ArgumentException"/> otherwise) with
    /// <paramref name="options"/>, validated here (<see cref="ArgumentException"/> for a bad address, port or frame limit,
    /// <see cref="ControlSecurityException"/> for a non-loopback address without a token). It listens once <see cref="Start"/> is called.
    /// </summary>
    public ControlServer(ControlServerOptions options, IEnumerable<IControlPalette> palettes)
    {
        options.Validate();
        _options = options;
        _palettes = new Dictionary<string, IControlPalette>(StringComparer.Ordinal);
        foreach (var palette in palettes)
            if (!_palettes.TryAdd(palette.Descriptor.Name, palette))
                throw new ArgumentException($"palette '{palette.Descriptor.Name}' is registered twice", nameof(palettes));
        _hello = new Hello(Protocol, options.NodeName, [.. _palettes.Values.Select(p => p.Descriptor)]);
        _tokenHash = Hash(options.Token);
        _readOnlyHash = options.ReadOnlyToken.Length > 0 ? Hash(options.ReadOnlyToken) : null;
    }

    private static byte[] Hash(string? token) => SHA256.HashData(Encoding.UTF8.GetBytes(token ?? ""));

    /// <summary>The bound port (the chosen one when <see cref="ControlServerOptions.Port"/> is 0); 0 before start.</summary>
    public int Port { get; private set; }

    /// <summary>Where clients reach the host: the configured address and the bound <see cref="Port"/>.</summary>
    public ControlEndpoint Endpoint => new(_options.Host, Port);

    /// <summary>Binds and starts accepting; throws <see cref="SocketException"/> when the port is taken.</summary>
    public void Start()
    {
        if (_listener is not null)
            throw new InvalidOperationException("the control host is already started");
        _listener = new TcpListener(_options.BindAddress(), _options.Port);
        _listener.Start();
        Port = ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoopAsync(_listener);
    }

    /// <summary>How long <see cref="DisposeAsync"/> lets requests in flight finish (and send their done) before closing.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Stops accepting, lets requests in flight finish for up to <see cref="Grace"/> (their clients get their done frame),
    /// then cancels the rest and closes every connection.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_closing)
            return;
        _closing = true;
        _listener?.Stop();
        // Requests in flight (e.g. a watch whose stream just ended) get a moment to finish and say done.
        await Task.WhenAny(Task.WhenAll(_requests.Keys), Task.Delay(Grace)).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        foreach (var client in _connections.Keys)
            client.Dispose();
        await Task.WhenAll(_connections.Values).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(TcpListener listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
            {
                if (_closing || _stopping.IsCancellationRequested)
                    return;
                continue; // a failed accept (e.g. the peer reset first) must not stop the host
            }
            if (_connections.Count >= _options.MaxConnections)
            {
                _ = RefuseAsync(client);
                continue;
            }
            _connections[client] = ServeAsync(client);
        }
    }

    /// <summary>Tells a connection over the limit why it is closed (in place of the hello), then closes it.</summary>
    private async Task RefuseAsync(TcpClient client)
    {
        var caller = client.Client.RemoteEndPoint?.ToString() ?? "unknown";
        _options.Log?.Invoke($"control: refused a connection from {caller}: {_options.MaxConnections} connections are open (akkagan.control.max-connections)");
        try
        {
            using var slow = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            slow.CancelAfter(_options.SlowClientTimeout);
            await using var stream = await OpenAsync(client, caller, slow.Token).ConfigureAwait(false);
            if (stream is null) return;
            await WriteAsync(stream, new Done(0, false,
                $"too many connections: this host serves {_options.MaxConnections} at once (akkagan.control.max-connections); close one and try again"), slow.Token)
                .ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // It went away first, or does not read: it is closed all the same.
        }
        finally
        {
            client.Dispose();
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        await Task.Yield(); // run the connection off the accept loop
        var ct = _stopping.Token;
        var caller = client.Client.RemoteEndPoint?.ToString() ?? "unknown";
        try
        {
            Stream? opened;
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                handshake.CancelAfter(_options.SlowClientTimeout);
                opened = await OpenAsync(client, caller, handshake.Token).ConfigureAwait(false);
            }
            if (opened is null) return;
            await using var stream = opened;
            await WriteAsync(stream, _hello, ct).ConfigureAwait(false);
            while (!ct.IsCancellationRequested)
            {
                if (!await AwaitRequestAsync(client.Client, caller, stream, ct).ConfigureAwait(false))
                    return;
                ControlMessage? message;
                using (var slow = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    slow.CancelAfter(_options.SlowClientTimeout);
                    try
                    {
                        message = await ControlFraming.ReadFrameAsync(stream, _options.MaxFrameBytes, slow.Token).ConfigureAwait(false);
                        if (message is not null and not Request)
                            throw new ControlProtocolException($"expected a request frame, got {message.GetType().Name.ToLowerInvariant()}");
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        await CloseAsync(stream, caller, $"its request did not arrive whole within {Seconds(_options.SlowClientTimeout)} " +
                                                         "(akkagan.control.slow-client-timeout)", ct).ConfigureAwait(false);
                        return;
                    }
                    catch (ControlProtocolException ex)
                    {
                        // Tell the peer why before hanging up; id 0 is never a request id.
                        await CloseAsync(stream, caller, $"protocol error: {ex.Message}", ct).ConfigureAwait(false);
                        return;
                    }
                }
                if (message is null)
                    return;
                var handling = HandleAsync(stream, (Request)message, caller, ct);
                _requests[handling] = 0;
                try
                {
                    await handling.ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    // Only a write that timed out cancels a request without the host stopping: the client stopped reading.
                    _options.Log?.Invoke($"control: closed the connection from {caller}: it did not take its answer within " +
                                         $"{Seconds(_options.SlowClientTimeout)} (akkagan.control.slow-client-timeout)");
                    return;
                }
                finally
                {
                    _requests.TryRemove(handling, out _);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException
                                       or ControlProtocolException)
        {
            // The peer went away, the host is stopping or an answer broke the frame limit: this connection ends, the host goes on.
        }
        finally
        {
            _connections.TryRemove(client, out _);
            client.Dispose();
        }
    }

    /// <summary>
    /// The connection's stream: the socket's, or TLS over it when the host has a certificate (the handshake within
    /// <paramref name="ct"/>: the slow-client timeout); null when the handshake failed (logged: a plain client, a
    /// client that does not trust the certificate, a scanner).
    /// </summary>
    private async Task<Stream?> OpenAsync(TcpClient client, string caller, CancellationToken ct)
    {
        if (_options.Certificate is null) return client.GetStream();
        var ssl = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _options.Certificate,
                EnabledSslProtocols = ControlClientTls.Protocols,
                ClientCertificateRequired = false,
            }, ct).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException)
        {
            // Logged before the connection closes, so whoever sees the close can find the reason in the log.
            if (!_stopping.IsCancellationRequested)
                _options.Log?.Invoke($"control: closed the connection from {caller}: no TLS handshake " +
                                     (ex is OperationCanceledException ? $"within {Seconds(_options.SlowClientTimeout)} (a client without TLS?)" : $"({ex.Message})"));
            await ssl.DisposeAsync().ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>
    /// Waits for the first byte of the next request (peeked, not consumed) for at most the idle timeout: true when one
    /// came, false when the peer closed or was idle too long (then it is told why).
    /// </summary>
    private async Task<bool> AwaitRequestAsync(Socket socket, string caller, Stream stream, CancellationToken ct)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        idle.CancelAfter(_options.IdleTimeout);
        try
        {
            return await socket.ReceiveAsync(new byte[1], SocketFlags.Peek, idle.Token).ConfigureAwait(false) > 0;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await CloseAsync(stream, caller, $"idle for {Seconds(_options.IdleTimeout)} (akkagan.control.idle-timeout); connect again to go on", ct)
                .ConfigureAwait(false);
            return false;
        }
    }

    /// <summary>Tells the peer why its connection closes (a done of id 0, within the slow-client timeout) and logs it.</summary>
    private async Task CloseAsync(Stream stream, string caller, string why, CancellationToken ct)
    {
        _options.Log?.Invoke($"control: closed the connection from {caller}: {why}");
        using var slow = CancellationTokenSource.CreateLinkedTokenSource(ct);
        slow.CancelAfter(_options.SlowClientTimeout);
        await WriteAsync(stream, new Done(0, false, $"connection closed: {why}"), slow.Token).ConfigureAwait(false);
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + " s";

    private async Task HandleAsync(Stream stream, Request request, string caller, CancellationToken ct)
    {
        var (refusal, role) = Refuse(request);
        if (refusal is not null)
        {
            if (role is null)
                _options.Log?.Invoke($"control: refused '{request.Palette} {request.Command}' from {caller}: {refusal}");
            await WriteAnswerAsync(stream, new Done(request.Id, false, refusal), ct).ConfigureAwait(false);
            return;
        }
        if (role is not null)
            caller += role;
        string? error = null;
        // The command's own token: cancelled too when its client stops taking the output, so a stream (watch, tail) ends.
        using var command = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var lines = _palettes[request.Palette].ExecuteAsync(request.Command, request.Args, caller, command.Token).GetAsyncEnumerator(command.Token);
        try
        {
            while (true)
            {
                string line;
                try
                {
                    if (!await lines.MoveNextAsync().ConfigureAwait(false))
                        break;
                    line = lines.Current ?? "";
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !command.IsCancellationRequested)
                {
                    // A failing command answers its own request; the connection and the host carry on.
                    error = ex.Message;
                    break;
                }
                await WriteAnswerAsync(stream, new Output(request.Id, line), ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await command.CancelAsync().ConfigureAwait(false); // the client did not take a line in time
            throw;
        }
        finally
        {
            await lines.DisposeAsync().ConfigureAwait(false);
        }
        await WriteAnswerAsync(stream, new Done(request.Id, error is null, error), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Why <paramref name="request"/> is refused (null: it is not), and the role its token gave it for the record: null
    /// without tokens (or when the token was wrong), " (operator)" or " (read-only)" when the host has a read-only token.
    /// </summary>
    private (string? Refusal, string? Role) Refuse(Request request)
    {
        var readOnly = false;
        if (_options.Token.Length > 0)
        {
            // Hash both sides so the comparison takes the same time whatever the length of the guess.
            var given = Hash(request.Token);
            readOnly = _readOnlyHash is not null && CryptographicOperations.FixedTimeEquals(given, _readOnlyHash);
            if (!readOnly && !CryptographicOperations.FixedTimeEquals(given, _tokenHash))
                return (Unauthorized, null);
        }
        var role = _readOnlyHash is null ? null : readOnly ? " (read-only)" : " (operator)";
        if (!_palettes.TryGetValue(request.Palette, out var palette))
            return ($"unknown palette '{request.Palette}'; valid palettes: {string.Join(", ", _palettes.Keys.Order(StringComparer.Ordinal))}", role);
        if (palette.Descriptor.RefuseCommand(request.Command) is { } unknown)
            return (unknown, role);
        if (readOnly && !palette.Descriptor.Commands.First(c => c.Name == request.Command).ReadOnly)
            return ($"forbidden: the read-only token runs only {ReadOnlyCommands()}; '{request.Palette} {request.Command}' needs the operator token", role);
        return (null, role);
    }

    private string ReadOnlyCommands() => string.Join(", ",
        _palettes.Values.OrderBy(p => p.Descriptor.Name, StringComparer.Ordinal)
            .SelectMany(p => p.Descriptor.Commands.Where(c => c.ReadOnly).Select(c => $"{p.Descriptor.Name} {c.Name}")));

    /// <summary>Writes part of an answer; a client that does not take it within the slow-client timeout cancels the request.</summary>
    private async Task WriteAnswerAsync(Stream stream, ControlMessage message, CancellationToken ct)
    {
        using var slow = CancellationTokenSource.CreateLinkedTokenSource(ct);
        slow.CancelAfter(_options.SlowClientTimeout);
        await WriteAsync(stream, message, slow.Token).ConfigureAwait(false);
    }

    private Task WriteAsync(Stream stream, ControlMessage message, CancellationToken ct) =>
        ControlFraming.WriteFrameAsync(stream, message, _options.MaxFrameBytes, ct);
}
