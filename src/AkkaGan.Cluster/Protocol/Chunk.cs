namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// How a large wire message travels (<see cref="Wire.LargeMessages"/>): as <see cref="Chunk"/>s or as a
/// <see cref="BulkRef"/>. Parts addressed to a shard region carry the target entity in <see cref="Entity"/>
/// (<c>d-i</c>, <c>g-0</c>) for routing; parts sent to an actor ref leave it empty.
/// </summary>
public interface IWirePart
{
    /// <summary>The target entity (<c>d-i</c>, <c>g-0</c>), or empty for a part sent to an actor ref.</summary>
    string Entity { get; }
}

/// <summary>
/// One part of a wire message too large for a single Akka.Remote frame (an image batch, a snapshot, evaluation
/// samples) when the bulk channel is off: the sender serializes the message once and sends <paramref name="Count"/>
/// chunks to the same target; the receiver reassembles them (<see cref="Wire.ChunkAssembler"/>) and handles the
/// original message.
/// </summary>
public sealed record Chunk(string Entity, Guid Transfer, int Index, int Count, string Manifest, byte[] Bytes) : IAkkaGanWireMessage, IWirePart
{
    /// <summary>A short description for logs (never the bytes).</summary>
    public override string ToString() => $"Chunk({Manifest} {Index + 1}/{Count} of {Transfer:N} -> {(Entity.Length == 0 ? "ref" : Entity)}, {Bytes.Length} bytes)";
}

/// <summary>
/// A large wire message left on its sender's node, to be fetched over the bulk channel (<see cref="Wire.BulkPlane"/>):
/// <paramref name="Length"/> serialized bytes of type <paramref name="Manifest"/>, transfer <paramref name="Transfer"/>
/// at <paramref name="Endpoint"/> (<c>host:port</c>).
/// </summary>
public sealed record BulkRef(string Entity, Guid Transfer, string Endpoint, long Length, string Manifest) : IAkkaGanWireMessage, IWirePart
{
    /// <summary>A short description for logs.</summary>
    public override string ToString() => $"BulkRef({Manifest} {Transfer:N} at {Endpoint} -> {(Entity.Length == 0 ? "ref" : Entity)}, {Length} bytes)";
}
