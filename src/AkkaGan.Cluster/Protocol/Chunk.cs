namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// How a large wire message travels (<see cref="Wire.LargeMessages"/>): as <see cref="Chunk"/>s or as a
/// <see cref="BulkRef"/>. Parts addressed to a shard region carry the target entity in <see cref="Entity"/>
/// (<c>d-i</c>, <c>g-0</c>) for routing; parts sent to an actor ref leave it empty.
/// </summary>
public interface IWirePart
{
    /// <summary>The target entity's id when the whole message is addressed to one (<see cref="IWithEntityId"/>); empty otherwise.</summary>
    string Entity { get; }
}

/// <summary>
/// One part of a wire message too large for a single Akka.Remote frame (an image batch, a snapshot, evaluation
/// samples) when the bulk channel is off: the sender serializes the message once and sends <paramref name="Count"/>
/// chunks to the same target; the receiver reassembles them (<see cref="Wire.ChunkAssembler"/>) and handles the
/// original message.
/// </summary>
/// <param name="Entity">The whole message's target entity (<c>d-i</c>, <c>g-0</c>) for the shard extractors; or empty.</param>
/// <param name="Transfer">The id every chunk of one message shares; the receiver collects the parts under it.</param>
/// <param name="Index">This chunk's position in the message, 0 to <paramref name="Count"/> - 1.</param>
/// <param name="Count">How many chunks the message was cut into (each at most <c>akkagan.wire.chunk-size</c> bytes).</param>
/// <param name="Manifest">The whole message's serializer manifest: the joined bytes are deserialized as this type.</param>
/// <param name="Bytes">This chunk's slice of the serialized message.</param>
public sealed record Chunk(string Entity, Guid Transfer, int Index, int Count, string Manifest, byte[] Bytes) : IAkkaGanWireMessage, IWirePart
{
    /// <summary>The chunk for logs: manifest, position, transfer, target and size, without the bytes.</summary>
    public override string ToString() => $"Chunk({Manifest} {Index + 1}/{Count} of {Transfer:N} -> {(Entity.Length == 0 ? "ref" : Entity)}, {Bytes.Length} bytes)";
}

/// <summary>
/// A large wire message left on its sender's node, to be fetched over the bulk channel (<see cref="Wire.BulkPlane"/>):
/// <paramref name="Length"/> serialized bytes of type <paramref name="Manifest"/>, transfer <paramref name="Transfer"/>
/// at <paramref name="Endpoint"/> (<c>host:port</c>).
/// </summary>
/// <param name="Entity">The whole message's target entity (<c>d-i</c>, <c>g-0</c>) for the shard extractors; or empty.</param>
/// <param name="Transfer">The id the sender's bulk channel offers the bytes under; the receiver asks for it.</param>
/// <param name="Endpoint">The sender's bulk channel, <c>host:port</c>.</param>
/// <param name="Length">The serialized message's size in bytes.</param>
/// <param name="Manifest">The message's serializer manifest: the fetched bytes are deserialized as this type.</param>
public sealed record BulkRef(string Entity, Guid Transfer, string Endpoint, long Length, string Manifest) : IAkkaGanWireMessage, IWirePart
{
    /// <summary>The reference for logs: manifest, transfer, endpoint, target and size.</summary>
    public override string ToString() => $"BulkRef({Manifest} {Transfer:N} at {Endpoint} -> {(Entity.Length == 0 ? "ref" : Entity)}, {Length} bytes)";
}
