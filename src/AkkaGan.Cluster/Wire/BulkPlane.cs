using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;

namespace AkkaGan.Cluster.Wire;

/// <summary>
/// The bulk channel (<c>akkagan.wire.bulk</c>): large messages (an image batch, a snapshot, evaluation samples) leave
/// Akka.Remote's connection, which carries them at about 150 MB/s here and holds heartbeats behind them, and travel on
/// a TCP connection of their own. The sender serializes the message once and offers the bytes under a random transfer
/// id (<see cref="Offer"/>); a small <see cref="Protocol.BulkRef"/> goes the usual way (through the shard region when
/// the target is an entity); the receiver fetches the bytes from the sender's node (<see cref="FetchAsync"/>), checks
/// their length and deserializes them with the same serializer (and its validation) as any wire message. A transfer
/// is served once and dropped; one that is never fetched expires after <c>keep</c>. When the outstanding bytes would
/// exceed <c>max-outstanding</c>, or the channel is off (TLS between the nodes: the channel has no TLS of its own), the
/// message goes as chunks over Akka.Remote instead. A fetch from this node's own channel takes the bytes directly.
/// </summary>
/// <remarks>
/// Protocol on a connection, repeated: the client writes a transfer id (16 bytes); the server answers its length
/// (8 bytes, little endian; -1: unknown or expired) and the bytes. Connections are kept and reused, one fetch at a time each.
/// </remarks>
public sealed class BulkPlane : IExtension, IDisposable
{
    private readonly ILoggingAdapter _log;
    private readonly TcpListener? _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Guid, Offered> _outbox = new();
    private readonly ConcurrentDictionary<string, ConcurrentBag<Connection>> _idle = new();
    private readonly Timer? _sweep;
    private long _outstanding;
    private int _connections;

    /// <summary>
    /// The node's bulk channel, configured from <c>akkagan.wire.bulk</c>; off with TLS, without remoting, or when disabled.
    /// </summary>
    public BulkPlane(ExtendedActorSystem system)
    {
        _log = Logging.GetLogger(system, typeof(BulkPlane));
        var config = system.Settings.Config;
        Keep = config.GetTimeSpan("akkagan.wire.bulk.keep", TimeSpan.FromSeconds(60), allowInfinite: false);
        FetchTimeout = config.GetTimeSpan("akkagan.wire.bulk.fetch-timeout", TimeSpan.FromSeconds(30), allowInfinite: false);
        MaxOutstanding = config.GetByteSize("akkagan.wire.bulk.max-outstanding", null) ?? 1L << 30;
        var tls = config.GetBoolean("akkagan.tls.enabled", false);
        var remote = system.Provider.DefaultAddress.Host is { Length: > 0 };
        if (!config.GetBoolean("akkagan.wire.bulk.enabled", true) || tls || !remote)
        {
            if (tls) _log.Info("bulk channel off: TLS is on between the nodes, large messages go as chunks over Akka.Remote");
            return;
        }
        var bind = config.GetString("akka.remote.dot-netty.tcp.hostname", "");
        var address = bind.Length == 0 || bind == "0.0.0.0" ? IPAddress.Any : IPAddress.TryParse(bind, out var ip) ? ip : Dns.GetHostAddresses(bind).First();
        _listener = new TcpListener(address, config.GetInt("akkagan.wire.bulk.port", 0));
        _listener.Start();
        Endpoint = $"{system.Provider.DefaultAddress.Host}:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        Enabled = true;
        _ = AcceptAsync(_listener, _stop.Token);
        _sweep = new Timer(_ => Sweep(), null, Keep, Keep);
        system.RegisterOnTermination(Dispose);
    }

    // Socket buffers that hold a whole image-sized transfer, so a fetch is not paced by the kernel's default window.
    private const int SocketBuffer = 8 << 20;

    /// <summary>The bulk channel of <paramref name="system"/> (an Akka extension, created once).</summary>
    public static BulkPlane Get(ActorSystem system) => system.WithExtension<BulkPlane, BulkPlaneProvider>();

    /// <summary>Whether large messages go over the bulk channel (else as chunks).</summary>
    public bool Enabled { get; }

    /// <summary>Where other nodes fetch this node's transfers: <c>host:port</c> (the host of this node's Akka address).</summary>
    public string Endpoint { get; } = "";

    /// <summary>How long an offered transfer waits to be fetched before it is dropped.</summary>
    public TimeSpan Keep { get; }

    /// <summary>How long a fetch may take before it fails.</summary>
    public TimeSpan FetchTimeout { get; }

    /// <summary>The most bytes offered and not yet fetched; a message beyond it goes as chunks instead.</summary>
    public long MaxOutstanding { get; }

    /// <summary>Bytes offered and not yet fetched.</summary>
    public long Outstanding => Interlocked.Read(ref _outstanding);

    /// <summary>The buffers transfers are written into and read into, reused so that a transfer does not fault in fresh pages.</summary>
    public ArrayPool<byte> Pool { get; } = ArrayPool<byte>.Create(maxArrayLength: 1 << 30, maxArraysPerBucket: 4);

    /// <summary>Keeps <paramref name="bytes"/> (now the channel's) for one fetch; null when the channel is off or full (send chunks instead; the caller still owns them).</summary>
    public Guid? Offer(BulkBytes bytes)
    {
        if (!Enabled) return null;
        if (Interlocked.Add(ref _outstanding, bytes.Length) > MaxOutstanding)
        {
            Interlocked.Add(ref _outstanding, -bytes.Length);
            return null;
        }
        var id = Guid.NewGuid();
        _outbox[id] = new Offered(bytes, DateTime.UtcNow + Keep);
        return id;
    }

    /// <summary>The bytes of transfer <paramref name="id"/> offered at <paramref name="endpoint"/> (the caller disposes them); throws <see cref="IOException"/> naming what failed.</summary>
    public async Task<BulkBytes> FetchAsync(string endpoint, Guid id, long length, CancellationToken cancellation = default)
    {
        if (endpoint == Endpoint && Enabled)
            return Take(id) ?? throw new IOException($"transfer {id:N} is not (or no longer) offered here");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation, _stop.Token);
        timeout.CancelAfter(FetchTimeout);
        // A kept connection that the server closed meanwhile fails before the server read the request, so the transfer
        // is still offered: the fetch is tried once more on a new connection.
        if (TakeIdle(endpoint) is { } kept)
        {
            try
            {
                return await ExchangeAsync(kept, endpoint, id, length, reused: true, timeout.Token).ConfigureAwait(false);
            }
            catch (StaleConnectionException)
            {
            }
        }
        return await ExchangeAsync(await ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false), endpoint, id, length, reused: false, timeout.Token)
            .ConfigureAwait(false);
    }

    /// <summary>A kept connection to <paramref name="endpoint"/>, unless it idled for half of <see cref="Keep"/> (the server closes it at <see cref="Keep"/>).</summary>
    private Connection? TakeIdle(string endpoint)
    {
        var idle = _idle.GetOrAdd(endpoint, _ => []);
        while (idle.TryTake(out var connection))
        {
            if (DateTime.UtcNow - connection.LastUsed < Keep / 2) return connection;
            connection.Dispose();
        }
        return null;
    }

    private async Task<BulkBytes> ExchangeAsync(Connection connection, string endpoint, Guid id, long length, bool reused, CancellationToken cancellation)
    {
        var answered = false;
        try
        {
            var request = new byte[16];
            id.TryWriteBytes(request);
            await connection.Stream.WriteAsync(request, cancellation).ConfigureAwait(false);
            var header = new byte[8];
            await connection.Stream.ReadExactlyAsync(header, cancellation).ConfigureAwait(false);
            answered = true;
            var size = BinaryPrimitives.ReadInt64LittleEndian(header);
            if (size < 0) throw new IOException($"transfer {id:N} is not (or no longer) offered at {endpoint}");
            if (size != length) throw new IOException($"transfer {id:N} from {endpoint}: {size} bytes, the reference says {length}");
            var bytes = new BulkBytes(Pool.Rent(checked((int)size)), (int)size, Pool);
            try
            {
                await connection.Stream.ReadExactlyAsync(bytes.Buffer.AsMemory(0, bytes.Length), cancellation).ConfigureAwait(false);
            }
            catch
            {
                bytes.Dispose();
                throw;
            }
            connection.LastUsed = DateTime.UtcNow;
            _idle[endpoint].Add(connection);
            return bytes;
        }
        catch (Exception e) when (e is SocketException or EndOfStreamException or IOException && reused && !answered)
        {
            connection.Dispose();
            throw new StaleConnectionException();
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or EndOfStreamException)
        {
            connection.Dispose();
            throw new IOException($"fetching transfer {id:N} from {endpoint} failed: " +
                                  (e is OperationCanceledException ? $"no answer within {FetchTimeout.TotalSeconds:F0} s" : e.Message), e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private sealed class StaleConnectionException : Exception;

    private static async Task<Connection> ConnectAsync(string endpoint, CancellationToken cancellation)
    {
        var colon = endpoint.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(endpoint.AsSpan(colon + 1), out var port)) throw new IOException($"bad bulk endpoint '{endpoint}' (expected host:port)");
        var client = new TcpClient { NoDelay = true, ReceiveBufferSize = SocketBuffer, SendBufferSize = SocketBuffer };
        try
        {
            await client.ConnectAsync(endpoint[..colon].Trim('[', ']'), port, cancellation).ConfigureAwait(false);
            return new Connection(client);
        }
        catch (SocketException e)
        {
            client.Dispose();
            throw new IOException($"cannot reach the bulk channel at {endpoint}: {e.Message}", e);
        }
    }

    private BulkBytes? Take(Guid id)
    {
        if (!_outbox.TryRemove(id, out var offered)) return null;
        Interlocked.Add(ref _outstanding, -offered.Bytes.Length);
        return offered.Bytes;
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            // Every node of the cluster keeps at most a few connections; more than this is not a training peer.
            if (Interlocked.Increment(ref _connections) > 256)
            {
                Interlocked.Decrement(ref _connections);
                client.Dispose();
                continue;
            }
            _ = ServeAsync(client, stop);
        }
    }

    private async Task ServeAsync(TcpClient client, CancellationToken stop)
    {
        using var _ = client;
        client.NoDelay = true;
        client.SendBufferSize = SocketBuffer;
        client.ReceiveBufferSize = SocketBuffer;
        var stream = client.GetStream();
        var request = new byte[16];
        var header = new byte[8];
        try
        {
            while (true)
            {
                // An idle connection is closed after `keep`: a peer reconnects when it needs one.
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(stop))
                {
                    idle.CancelAfter(Keep);
                    // Fewer than 16 bytes: the peer closed the connection.
                    if (await stream.ReadAtLeastAsync(request, request.Length, throwOnEndOfStream: false, idle.Token).ConfigureAwait(false) < request.Length)
                        return;
                }
                using var bytes = Take(new Guid(request));
                BinaryPrimitives.WriteInt64LittleEndian(header, bytes?.Length ?? -1);
                await stream.WriteAsync(header, stop).ConfigureAwait(false);
                if (bytes is not null) await stream.WriteAsync(bytes.Buffer.AsMemory(0, bytes.Length), stop).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer went away or idled out; it reconnects when it needs to.
        }
        finally
        {
            Interlocked.Decrement(ref _connections);
        }
    }

    private void Sweep()
    {
        var now = DateTime.UtcNow;
        foreach (var (id, offered) in _outbox)
            if (offered.Expires < now && Take(id) is { } expired)
            {
                _log.Warning("bulk transfer {0} ({1} bytes) was not fetched within {2}: dropped", id.ToString("N"), expired.Length, Keep);
                expired.Dispose();
            }
    }

    /// <summary>Stops listening, closes idle connections and drops transfers not fetched.</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _listener?.Stop();
        _sweep?.Dispose();
        foreach (var bag in _idle.Values)
            while (bag.TryTake(out var connection)) connection.Dispose();
        foreach (var id in _outbox.Keys) Take(id)?.Dispose();
    }

    private sealed record Offered(BulkBytes Bytes, DateTime Expires);

    private sealed class Connection(TcpClient client) : IDisposable
    {
        public NetworkStream Stream { get; } = client.GetStream();

        public DateTime LastUsed { get; set; } = DateTime.UtcNow;

        public void Dispose() => client.Dispose();
    }
}

/// <summary>The Akka extension id of <see cref="BulkPlane"/>.</summary>
public sealed class BulkPlaneProvider : ExtensionIdProvider<BulkPlane>
{
    /// <inheritdoc/>
    public override BulkPlane CreateExtension(ExtendedActorSystem system) => new(system);
}

/// <summary>
/// A transfer's bytes: the first <see cref="Length"/> of <see cref="Buffer"/>, which goes back to its pool on <see cref="Dispose"/>.
/// </summary>
public sealed class BulkBytes(byte[] buffer, int length, ArrayPool<byte>? pool = null) : IDisposable
{
    private int _returned;

    /// <summary>The buffer; only the first <see cref="Length"/> bytes are the transfer's.</summary>
    public byte[] Buffer => buffer;

    /// <summary>The transfer's length in bytes.</summary>
    public int Length => length;

    /// <summary>Returns the buffer to its pool (once).</summary>
    public void Dispose()
    {
        if (pool is not null && Interlocked.Exchange(ref _returned, 1) == 0) pool.Return(buffer);
    }
}
