using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Cluster.Serialization;
using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Wire;

/// <summary>
/// Sends wire messages so that none exceeds Akka.Remote's frame: messages whose tensors and snapshots stay below
/// <c>akkagan.wire.chunk-size</c> go as they are; larger ones are serialized once and left on the bulk channel
/// (<see cref="BulkPlane"/>) for the receiver to fetch, a <see cref="BulkRef"/> going in their place; with the
/// channel off or full they go as <see cref="Chunk"/>s of at most that size, in order, to the same target (one
/// connection carries the heartbeats too, so chunks much smaller than the frame keep them flowing between the parts
/// of a large transfer). Receivers take both with a <see cref="WireInbox"/>.
/// </summary>
public sealed class LargeMessages
{
    private readonly AkkaGanSerializer _serializer;
    private readonly BulkPlane _bulk;
    private readonly bool _useBulk;

    /// <param name="bulk">Whether large messages may take the bulk channel (false: always chunks, as <c>akkagan bench wire</c> compares).</param>
    public LargeMessages(ActorSystem system, bool bulk = true)
    {
        _serializer = AkkaGanSerializer.Of(system);
        _bulk = BulkPlane.Get(system);
        _useBulk = bulk;
        var configured = system.Settings.Config.GetByteSize("akkagan.wire.chunk-size", null);
        ChunkSize = configured is > 0 and <= int.MaxValue ? (int)configured.Value : DefaultChunkSize;
    }

    /// <summary>The chunk size when <c>akkagan.wire.chunk-size</c> is not set: 1 MiB.</summary>
    public const int DefaultChunkSize = 1 << 20;

    /// <summary>Messages larger than this many bytes go by the bulk channel or in chunks of this size.</summary>
    public int ChunkSize { get; }

    /// <summary>The serializer of the wire messages.</summary>
    public AkkaGanSerializer Serializer => _serializer;

    /// <summary>Sends <paramref name="message"/> to <paramref name="target"/> whole, by the bulk channel, or in chunks.</summary>
    public void Tell(IActorRef target, IAkkaGanWireMessage message, IActorRef sender)
    {
        if (AkkaGanSerializer.TensorBytes(message) < ChunkSize)
        {
            target.Tell(message, sender);
            return;
        }
        var manifest = _serializer.Manifest(message);
        var entity = (message as IWithEntityId)?.EntityId ?? "";
        if (_useBulk && _bulk.Enabled && _serializer.ToPooledBinary(message, _bulk.Pool) is { } pooled)
        {
            var serialized = new BulkBytes(pooled.Buffer, pooled.Length, _bulk.Pool);
            if (_bulk.Offer(serialized) is { } offered)
            {
                target.Tell(new BulkRef(entity, offered, _bulk.Endpoint, serialized.Length, manifest), sender);
                return;
            }
            serialized.Dispose();
        }
        var bytes = _serializer.ToBinary(message);
        var transfer = Guid.NewGuid();
        var count = (int)((bytes.LongLength + ChunkSize - 1) / ChunkSize);
        for (var i = 0; i < count; i++)
        {
            var part = bytes.AsSpan(i * ChunkSize, Math.Min(ChunkSize, bytes.Length - i * ChunkSize)).ToArray();
            target.Tell(new Chunk(entity, transfer, i, count, manifest, part), sender);
        }
    }
}

/// <summary>
/// Reassembles <see cref="Chunk"/>s into the message they carry. Chunks may arrive in any order and twice; a chunk
/// that contradicts its transfer (count, manifest, index), or a transfer beyond the limits, is refused with a
/// <see cref="SerializationException"/> naming the problem and its transfer is dropped, so a bad peer costs memory
/// for at most <see cref="MaxOpenTransfers"/> transfers and never crashes the receiver.
/// </summary>
public sealed class ChunkAssembler(AkkaGanSerializer serializer)
{
    /// <summary>Transfers buffered at once; the oldest is dropped when another begins.</summary>
    public const int MaxOpenTransfers = 16;

    /// <summary>The largest message reassembled (1 GiB).</summary>
    public const long MaxMessageBytes = 1L << 30;

    private readonly Dictionary<Guid, Transfer> _open = [];
    private readonly Queue<Guid> _order = new();
    // Recently completed transfers, so that a late duplicate of one of their chunks does not open a new transfer.
    private readonly HashSet<Guid> _completed = [];
    private readonly Queue<Guid> _completedOrder = new();

    /// <summary>Transfers with chunks still missing.</summary>
    public int OpenTransfers => _open.Count;

    /// <summary>Adds a chunk; returns the whole message once its last chunk arrived, otherwise null.</summary>
    public object? Add(Chunk chunk)
    {
        if (chunk.Count < 1 || chunk.Count > MaxMessageBytes / 1024)
            throw new SerializationException($"chunk of transfer {chunk.Transfer:N}: count {chunk.Count} is outside 1..{MaxMessageBytes / 1024}");
        if (chunk.Index < 0 || chunk.Index >= chunk.Count)
            throw Refuse(chunk.Transfer, $"chunk index {chunk.Index} is outside 0..{chunk.Count - 1}");
        if (_completed.Contains(chunk.Transfer)) return null; // a late duplicate
        if (!_open.TryGetValue(chunk.Transfer, out var transfer))
        {
            while (_open.Count >= MaxOpenTransfers && _order.TryDequeue(out var oldest)) _open.Remove(oldest);
            transfer = new Transfer(chunk.Manifest, new byte[chunk.Count][]);
            _open[chunk.Transfer] = transfer;
            _order.Enqueue(chunk.Transfer);
        }
        if (transfer.Parts.Length != chunk.Count || transfer.Manifest != chunk.Manifest)
            throw Refuse(chunk.Transfer, $"chunk {chunk.Index} says {chunk.Count} parts of '{chunk.Manifest}', the transfer {transfer.Parts.Length} of '{transfer.Manifest}'");
        if (transfer.Parts[chunk.Index] is not null) return null; // a duplicate
        transfer.Bytes += chunk.Bytes.LongLength;
        if (transfer.Bytes > MaxMessageBytes) throw Refuse(chunk.Transfer, $"more than {MaxMessageBytes} bytes");
        transfer.Parts[chunk.Index] = chunk.Bytes;
        if (++transfer.Received < transfer.Parts.Length) return null;

        _open.Remove(chunk.Transfer);
        _completed.Add(chunk.Transfer);
        _completedOrder.Enqueue(chunk.Transfer);
        if (_completedOrder.Count > 4 * MaxOpenTransfers) _completed.Remove(_completedOrder.Dequeue());
        var whole = new byte[transfer.Bytes];
        var offset = 0;
        foreach (var part in transfer.Parts)
        {
            part!.CopyTo(whole, offset);
            offset += part.Length;
        }
        return serializer.FromBinary(whole, transfer.Manifest);
    }

    private SerializationException Refuse(Guid id, string problem)
    {
        _open.Remove(id);
        return new SerializationException($"chunk of transfer {id:N} refused: {problem}");
    }

    private sealed class Transfer(string manifest, byte[]?[] parts)
    {
        public string Manifest { get; } = manifest;
        public byte[]?[] Parts { get; } = parts;
        public int Received { get; set; }
        public long Bytes { get; set; }
    }
}

/// <summary>
/// What an actor that receives large messages does with their parts (<see cref="IWirePart"/>): chunks are
/// reassembled; a bulk reference is fetched off the actor's thread and comes back to the actor as
/// <see cref="BulkArrived"/>. Whole messages are handed to the actor's handler in the order their parts began to
/// arrive (a small message sent between two large ones is not held back). Bad parts, and transfers that cannot be
/// fetched, are logged and dropped, as a lost message would be: the step that waits for it times out.
/// </summary>
public sealed class WireInbox
{
    private readonly ChunkAssembler _chunks;
    private readonly AkkaGanSerializer _serializer;
    private readonly BulkPlane _bulk;
    private readonly ILoggingAdapter _log;
    private readonly SortedDictionary<long, BulkArrived> _arrived = [];
    private long _nextFetch;
    private long _nextHandled;

    /// <summary>An inbox of an actor of <paramref name="system"/>, logging dropped transfers to <paramref name="log"/>.</summary>
    public WireInbox(ActorSystem system, ILoggingAdapter log)
    {
        _serializer = AkkaGanSerializer.Of(system);
        _chunks = new ChunkAssembler(_serializer);
        _bulk = BulkPlane.Get(system);
        _log = log;
    }

    /// <summary>Takes <paramref name="part"/> received by <paramref name="self"/> from <paramref name="sender"/>; <paramref name="handle"/> gets whole messages.</summary>
    public void Receive(IWirePart part, IActorRef self, IActorRef sender, Action<object> handle)
    {
        switch (part)
        {
            case Chunk chunk:
                object? whole;
                try
                {
                    whole = _chunks.Add(chunk);
                }
                catch (SerializationException e)
                {
                    _log.Warning("dropped {0}: {1}", chunk, e.Message);
                    return;
                }
                if (whole is not null) handle(whole);
                return;
            case BulkRef reference:
                if (reference.Length is < 0 or > ChunkAssembler.MaxMessageBytes || reference.Endpoint.Length == 0)
                {
                    _log.Warning("dropped {0}: a length outside 0..{1} or no endpoint", reference, ChunkAssembler.MaxMessageBytes);
                    return;
                }
                var sequence = _nextFetch++;
                _ = FetchAsync(reference, sequence, self, sender);
                return;
            case BulkArrived arrived:
                _arrived[arrived.Sequence] = arrived;
                while (_arrived.Remove(_nextHandled, out var next))
                {
                    _nextHandled++;
                    if (next.Message is not null) handle(next.Message);
                    else _log.Warning("dropped {0}: {1}", next.Reference, next.Error);
                }
                return;
        }
    }

    private async Task FetchAsync(BulkRef reference, long sequence, IActorRef self, IActorRef sender)
    {
        object? message = null;
        string? error = null;
        try
        {
            using var bytes = await _bulk.FetchAsync(reference.Endpoint, reference.Transfer, reference.Length).ConfigureAwait(false);
            message = _serializer.FromBinary(bytes.Buffer, bytes.Length, reference.Manifest);
        }
        catch (Exception e) when (e is IOException or SerializationException)
        {
            error = e.Message;
        }
        self.Tell(new BulkArrived(sequence, reference, message, error), sender);
    }
}

/// <summary>A fetched bulk transfer back on its receiver's thread (local only: never crosses the wire).</summary>
public sealed record BulkArrived(long Sequence, BulkRef Reference, object? Message, string? Error) : IWirePart
{
    /// <inheritdoc/>
    public string Entity => Reference.Entity;
}
