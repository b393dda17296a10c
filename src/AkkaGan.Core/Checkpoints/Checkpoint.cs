using System.Runtime.Serialization;
using System.Security.Cryptography;
using System.Text;
using AkkaGan.Core.Tensors;

namespace AkkaGan.Core.Checkpoints;

/// <summary>A named tensor inside a snapshot (model parameters and buffers, optimizer moments).</summary>
public sealed record NamedPayload(string Name, TensorPayload Payload);

/// <summary>
/// The state of one entity (the generator <c>g-0</c> or a discriminator <c>d-i</c>): weights, buffers, optimizer
/// moments, step count and learning rate. The unit a cluster entity snapshots on its own.
/// </summary>
public sealed record EntitySnapshot(string EntityId, double LearningRate, long OptimizerSteps, IReadOnlyList<NamedPayload> Tensors);

/// <summary>
/// Run-level facts of a checkpoint. Random draws are counter-based (see <c>Seeds</c>), so (seed, round) is the whole
/// RNG position: no generator state needs saving.
/// </summary>
/// <param name="EntityRounds">
/// The round of each entity's state (the cluster engine writes every entity's): older than <paramref name="Round"/>
/// for a member that was left out of the rounds since (its node was lost) and keeps the state it had. Null: every
/// entity's state is of <paramref name="Round"/> (the reference engine, and checkpoints of format version 1).
/// </param>
public sealed record CheckpointMetadata(long Round, long Seed, string SettingsJson, string Engine, DateTimeOffset CreatedUtc,
    IReadOnlyDictionary<string, long>? EntityRounds = null)
{
    /// <summary>The round of <paramref name="entityId"/>'s state in this checkpoint.</summary>
    public long RoundOf(string entityId) => EntityRounds is { } rounds && rounds.TryGetValue(entityId, out var round) ? round : Round;
}

/// <summary>A whole run's state at the end of a round.</summary>
public sealed record Checkpoint(CheckpointMetadata Metadata, IReadOnlyList<EntitySnapshot> Entities)
{
    /// <summary>Throws when this checkpoint is already past the run's last round (resuming it would train nothing).</summary>
    public Checkpoint EnsureWithin(long rounds)
        => Metadata.Round <= rounds
            ? this
            : throw new CheckpointException($"the checkpoint is at round {Metadata.Round}, past rounds={rounds}; raise --rounds to continue it");

    /// <summary>
    /// The state of entity <paramref name="id"/> (<c>g-0</c>, <c>d-i</c>); throws <see cref="CheckpointException"/> naming the entities it
    /// has when it lacks that one.
    /// </summary>
    public EntitySnapshot Entity(string id)
        => Entities.FirstOrDefault(e => e.EntityId == id)
           ?? throw new CheckpointException($"checkpoint has no entity '{id}' (it has {string.Join(", ", Entities.Select(e => e.EntityId))})");
}

/// <summary>Thrown when a checkpoint is missing, corrupt or does not fit the run; the message names the file.</summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates the exception with <paramref name="message"/>, which names the file and the problem.</summary>
    public CheckpointException(string message) : base(message) { }
    /// <summary>Creates the exception with <paramref name="message"/> and its cause.</summary>
    public CheckpointException(string message, Exception inner) : base(message, inner) { }
    /// <summary>Creates the exception with the default message.</summary>
    public CheckpointException() { }
}

/// <summary>
/// Checkpoint &lt;-&gt; bytes. Layout: magic "AKGANCK1", int32 version, int64 body length, body, SHA-256 of the body.
/// Body: metadata fields, (version 2) the count of per-entity rounds and each (id, round), entity count, then per
/// entity its id, learning rate, step count and named tensor payloads. Version 1 files (no per-entity rounds) are read
/// too. Any truncation, bit flip or inconsistency is rejected with <see cref="CheckpointException"/>.
/// </summary>
public static class CheckpointCodec
{
    /// <summary>The version this build writes (2: per-entity rounds); version 1 files are still read.</summary>
    public const int FormatVersion = 2;
    private static readonly byte[] Magic = "AKGANCK1"u8.ToArray();

    /// <summary>The checkpoint file's bytes: header, metadata, every entity's tensors, and a SHA-256 of it all.</summary>
    public static byte[] Encode(Checkpoint checkpoint)
    {
        using var file = new MemoryStream((int)Math.Min(Array.MaxLength, Header + BodyLength(checkpoint) + HashLength));
        Write(file, checkpoint);
        return file.Length == file.Capacity ? file.GetBuffer() : file.ToArray();
    }

    /// <summary>
    /// Writes the checkpoint file to <paramref name="destination"/> as it goes: the body is written twice, once to
    /// count its bytes for the header and once through SHA-256 to the stream, so that no copy of the tensors is made
    /// (a Fashion-MNIST checkpoint is 22 MB; building it in memory took five copies of it in the large-object heap).
    /// </summary>
    public static void Write(Stream destination, Checkpoint checkpoint)
    {
        var length = BodyLength(checkpoint);
        using (var w = new BinaryWriter(destination, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(FormatVersion);
            w.Write(length);
        }
        using var hashing = new HashingStream(destination);
        WriteBody(hashing, checkpoint);
        if (hashing.Length != length)
            throw new InvalidOperationException($"checkpoint body changed while it was written ({length} bytes counted, {hashing.Length} written)");
        destination.Write(hashing.Hash());
    }

    private const int Header = 8 + 4 + 8;
    private const int HashLength = 32;

    private static long BodyLength(Checkpoint checkpoint)
    {
        using var counting = new HashingStream(null);
        WriteBody(counting, checkpoint);
        return counting.Length;
    }

    private static void WriteBody(Stream body, Checkpoint checkpoint)
    {
        using var w = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true);
        var m = checkpoint.Metadata;
        w.Write(m.Round);
        w.Write(m.Seed);
        w.Write(m.SettingsJson);
        w.Write(m.Engine);
        w.Write(m.CreatedUtc.ToUnixTimeMilliseconds());
        var rounds = m.EntityRounds ?? new Dictionary<string, long>();
        w.Write(rounds.Count);
        foreach (var (id, round) in rounds.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            w.Write(id);
            w.Write(round);
        }
        w.Write(checkpoint.Entities.Count);
        foreach (var e in checkpoint.Entities) WriteEntity(w, e);
    }

    /// <summary>A write-only stream that counts and hashes what passes through it to <c>inner</c> (or nowhere).</summary>
    private sealed class HashingStream(Stream? inner) : Stream
    {
        private readonly IncrementalHash? _hash = inner is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _length;

        public byte[] Hash() => _hash!.GetHashAndReset();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() => inner?.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _length += buffer.Length;
            if (inner is null) return;
            _hash!.AppendData(buffer);
            inner.Write(buffer);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _hash?.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>Decodes and verifies; <paramref name="source"/> names the file in errors.</summary>
    public static Checkpoint Decode(byte[] bytes, string source)
    {
        const int header = Header;
        if (bytes.Length < header + HashLength) throw new CheckpointException($"{source}: not a checkpoint (truncated: {bytes.Length} bytes)");
        if (!bytes.AsSpan(0, 8).SequenceEqual(Magic)) throw new CheckpointException($"{source}: not an AkkaGan checkpoint (wrong magic)");
        var version = BitConverter.ToInt32(bytes, 8);
        if (version is < 1 or > FormatVersion) throw new CheckpointException($"{source}: checkpoint format version {version}, this build reads 1 to {FormatVersion}");
        var length = BitConverter.ToInt64(bytes, 12);
        if (length < 0 || header + length + 32 != bytes.Length)
            throw new CheckpointException($"{source}: corrupt checkpoint (truncated or padded: body of {length} bytes announced, file has {bytes.Length})");
        var body = bytes.AsSpan(header, (int)length);
        var hash = bytes.AsSpan(header + (int)length, 32);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(hash))
            throw new CheckpointException($"{source}: corrupt checkpoint (SHA-256 mismatch)");
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes, header, (int)length, writable: false), Encoding.UTF8);
            var metadata = new CheckpointMetadata(r.ReadInt64(), r.ReadInt64(), r.ReadString(), r.ReadString(),
                DateTimeOffset.FromUnixTimeMilliseconds(r.ReadInt64()));
            if (version >= 2)
            {
                var n = r.ReadInt32();
                if (n < 0 || n > 4096) throw new CheckpointException($"{source}: corrupt checkpoint (per-entity round count {n})");
                var rounds = new Dictionary<string, long>(n);
                for (var i = 0; i < n; i++)
                {
                    var id = r.ReadString();
                    var round = r.ReadInt64();
                    if (round < 0 || round > metadata.Round)
                        throw new CheckpointException($"{source}: corrupt checkpoint ({id}'s state is of round {round}, outside 0..{metadata.Round})");
                    rounds[id] = round;
                }
                if (n > 0) metadata = metadata with { EntityRounds = rounds };
            }
            var count = r.ReadInt32();
            if (count < 0 || count > 4096) throw new CheckpointException($"{source}: corrupt checkpoint (entity count {count})");
            var entities = new List<EntitySnapshot>(count);
            for (var i = 0; i < count; i++) entities.Add(ReadEntity(r));
            return new Checkpoint(metadata, entities);
        }
        catch (Exception e) when (e is EndOfStreamException or SerializationException or FormatException)
        {
            throw new CheckpointException($"{source}: corrupt checkpoint ({e.Message})", e);
        }
    }

    /// <summary>Writes one entity's state (id, learning rate, optimizer steps, tensors) in the checkpoint format.</summary>
    public static void WriteEntity(BinaryWriter w, EntitySnapshot e)
    {
        w.Write(e.EntityId);
        w.Write(e.LearningRate);
        w.Write(e.OptimizerSteps);
        w.Write(e.Tensors.Count);
        foreach (var t in e.Tensors)
        {
            w.Write(t.Name);
            TensorCodec.Write(w, t.Payload);
        }
    }

    /// <summary>
    /// Reads one entity's state written by <see cref="WriteEntity"/>; a bad tensor throws
    /// <see cref="System.Runtime.Serialization.SerializationException"/>.
    /// </summary>
    public static EntitySnapshot ReadEntity(BinaryReader r)
    {
        var id = r.ReadString();
        var lr = r.ReadDouble();
        var steps = r.ReadInt64();
        var count = r.ReadInt32();
        if (count < 0 || count > 100_000) throw new SerializationException($"entity '{id}': tensor count {count}");
        var tensors = new List<NamedPayload>(count);
        for (var i = 0; i < count; i++) tensors.Add(new NamedPayload(r.ReadString(), TensorCodec.Read(r, long.MaxValue / 2)));
        return new EntitySnapshot(id, lr, steps, tensors);
    }
}
