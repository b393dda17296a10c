namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// One part of a wire message too large for a single Akka.Remote frame (an image batch, a snapshot, evaluation
/// samples): the sender serializes the message once and sends <paramref name="Count"/> chunks to the same target; the
/// receiver reassembles them (<see cref="Wire.ChunkAssembler"/>) and handles the original message. Chunks addressed to
/// a shard region carry the target entity in <paramref name="Entity"/> (<c>d-i</c>, <c>g-0</c>) for routing; chunks sent
/// to an actor ref leave it empty.
/// </summary>
public sealed record Chunk(string Entity, Guid Transfer, int Index, int Count, string Manifest, byte[] Bytes) : IAkkaGanWireMessage
{
    public override string ToString() => $"Chunk({Manifest} {Index + 1}/{Count} of {Transfer:N} -> {(Entity.Length == 0 ? "ref" : Entity)}, {Bytes.Length} bytes)";
}
