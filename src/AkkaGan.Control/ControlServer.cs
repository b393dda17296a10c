using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using static AkkaGan.Control.ControlMessages;

namespace AkkaGan.Control;

/// <summary>
/// The control host of one node: listens on TCP, greets every connection with a hello listing its palettes, then
/// answers requests one at a time per connection (authorize, find palette and command, stream output, done). A
/// protocol error closes that connection only; disposing closes the listener and every connection.
/// </summary>
public sealed class ControlServer : IAsyncDisposable
{
    private const string Unauthorized = "unauthorized: wrong or missing token";

    private readonly ControlServerOptions _options;
    private readonly Dictionary<string, IControlPalette> _palettes;
    private readonly Hello _hello;
    private readonly byte[] _tokenHash;
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
        _tokenHash = SHA256.HashData(Encoding.UTF8.GetBytes(options.Token));
    }

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
            _connections[client] = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        await Task.Yield(); // run the connection off the accept loop
        var ct = _stopping.Token;
        try
        {
            var stream = client.GetStream();
            var caller = client.Client.RemoteEndPoint?.ToString() ?? "unknown";
            await WriteAsync(stream, _hello, ct).ConfigureAwait(false);
            while (!ct.IsCancellationRequested)
            {
                ControlMessage? message;
                try
                {
                    message = await ControlFraming.ReadFrameAsync(stream, _options.MaxFrameBytes, ct).ConfigureAwait(false);
                    if (message is not null and not Request)
                        throw new ControlProtocolException($"expected a request frame, got {message.GetType().Name.ToLowerInvariant()}");
                }
                catch (ControlProtocolException ex)
                {
                    // Tell the peer why before hanging up; id 0 is never a request id.
                    await WriteAsync(stream, new Done(0, false, $"protocol error: {ex.Message}"), ct).ConfigureAwait(false);
                    return;
                }
                if (message is null)
                    return;
                var handling = HandleAsync(stream, (Request)message, caller, ct);
                _requests[handling] = 0;
                try
                {
                    await handling.ConfigureAwait(false);
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

    private async Task HandleAsync(Stream stream, Request request, string caller, CancellationToken ct)
    {
        var refusal = Refuse(request);
        if (refusal is not null)
        {
            await WriteAsync(stream, new Done(request.Id, false, refusal), ct).ConfigureAwait(false);
            return;
        }
        string? error = null;
        var lines = _palettes[request.Palette].ExecuteAsync(request.Command, request.Args, caller, ct).GetAsyncEnumerator(ct);
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
                catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    // A failing command answers its own request; the connection and the host carry on.
                    error = ex.Message;
                    break;
                }
                await WriteAsync(stream, new Output(request.Id, line), ct).ConfigureAwait(false);
            }
        }
        finally
        {
            await lines.DisposeAsync().ConfigureAwait(false);
        }
        await WriteAsync(stream, new Done(request.Id, error is null, error), ct).ConfigureAwait(false);
    }

    private string? Refuse(Request request)
    {
        if (_options.Token.Length > 0)
        {
            // Hash both sides so the comparison takes the same time whatever the length of the guess.
            var given = SHA256.HashData(Encoding.UTF8.GetBytes(request.Token ?? ""));
            if (!CryptographicOperations.FixedTimeEquals(given, _tokenHash))
                return Unauthorized;
        }
        if (!_palettes.TryGetValue(request.Palette, out var palette))
            return $"unknown palette '{request.Palette}'; valid palettes: {string.Join(", ", _palettes.Keys.Order(StringComparer.Ordinal))}";
        return palette.Descriptor.RefuseCommand(request.Command);
    }

    private Task WriteAsync(Stream stream, ControlMessage message, CancellationToken ct) =>
        ControlFraming.WriteFrameAsync(stream, message, _options.MaxFrameBytes, ct);
}
