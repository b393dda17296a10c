using System.Runtime.Serialization;
using Akka.Configuration;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Cluster.Serialization;
using AkkaGan.Cluster.Wire;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>Large messages go as chunks no larger than akkagan.wire.chunk-size and come back whole; bad chunks are refused.</summary>
public sealed class ChunkSpecs : Akka.TestKit.Xunit.TestKit
{
    private static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.actor.provider = local
        akkagan.wire.chunk-size = 1000b
        """).WithFallback(AkkaGanConfig.Default());

    public ChunkSpecs() : base(Config, "chunk-spec") { }

    private LargeMessages Wire => new(Sys);

    /// <summary>A D -> D weight transfer of ~9 KB: a command routed to entity d-2 through the discriminator region.</summary>
    private D.AdoptWeights LargeSnapshot()
        => new(new DiscriminatorId(2), 1, new EntitySnapshot("d-1", 1e-3, 5,
            [new NamedPayload("model/w", TensorCodec.ToPayload(arange(1500, float32))), new NamedPayload("optim/m/0", TensorCodec.ToPayload(ones(700, float32)))]),
            2e-3, 9, TestActor);

    private List<Chunk> SendAndCollect(object message)
    {
        Wire.Tell(TestActor, (IAkkaGanWireMessage)message, TestActor);
        var chunks = new List<Chunk>();
        while (ReceiveOne(TimeSpan.FromMilliseconds(200)) is Chunk chunk) chunks.Add(chunk);
        return chunks;
    }

    [Fact]
    public void A_large_message_should_travel_as_chunks_and_reassemble_in_any_order()
    {
        var message = LargeSnapshot();
        var chunks = SendAndCollect(message);

        var expected = Wire.Serializer.ToBinary(message);
        Assert.Equal((expected.Length + 999) / 1000, chunks.Count);
        Assert.All(chunks, c => Assert.True(c.Bytes.Length <= 1000));
        Assert.All(chunks, c => Assert.Equal("d-2", c.Entity)); // routable by the discriminator extractor
        Assert.Single(chunks.Select(c => c.Transfer).Distinct());

        var assembler = new ChunkAssembler(Wire.Serializer);
        object? whole = null;
        foreach (var chunk in Enumerable.Reverse(chunks).Append(chunks[^1])) // reversed, with a duplicate
            whole = assembler.Add(chunk) ?? whole;
        var back = Assert.IsType<D.AdoptWeights>(whole);
        Assert.Equal(expected, Wire.Serializer.ToBinary(back));
        Assert.Equal(0, assembler.OpenTransfers);
    }

    [Fact]
    public void A_small_message_should_go_whole()
    {
        var small = new D.FitnessMeasured(new DiscriminatorId(0), 1, 3, 0.5);
        Wire.Tell(TestActor, small, TestActor);
        ExpectMsg<D.FitnessMeasured>(cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public void Contradicting_or_out_of_range_chunks_should_be_refused_and_drop_their_transfer()
    {
        var chunks = SendAndCollect(LargeSnapshot());
        var assembler = new ChunkAssembler(Wire.Serializer);

        assembler.Add(chunks[0]);
        var e = Assert.Throws<SerializationException>(() => assembler.Add(chunks[1] with { Count = chunks[1].Count + 1 }));
        Assert.Contains("says", e.Message);
        Assert.Equal(0, assembler.OpenTransfers);

        Assert.Contains("index", Assert.Throws<SerializationException>(() => assembler.Add(chunks[0] with { Index = chunks[0].Count })).Message);
        Assert.Contains("count", Assert.Throws<SerializationException>(() => assembler.Add(chunks[0] with { Count = 0 })).Message);

        // A transfer whose bytes do not make a message fails in the serializer, naming its manifest.
        var garbage = new Chunk("", Guid.NewGuid(), 0, 1, "d.adopt", [1, 2, 3]);
        Assert.Contains("d.adopt", Assert.Throws<SerializationException>(() => assembler.Add(garbage)).Message);
    }

    [Fact]
    public void Abandoned_transfers_should_be_bounded()
    {
        var assembler = new ChunkAssembler(Wire.Serializer);
        for (var i = 0; i < ChunkAssembler.MaxOpenTransfers + 5; i++)
            Assert.Null(assembler.Add(new Chunk("", Guid.NewGuid(), 0, 2, "d.snapshot", new byte[10])));
        Assert.Equal(ChunkAssembler.MaxOpenTransfers, assembler.OpenTransfers);
    }

    [Fact]
    public void The_extractors_should_route_chunks_to_their_entity_type_only()
    {
        var chunk = new Chunk("d-4", Guid.NewGuid(), 0, 1, "d.snapshot", []);
        Assert.Equal("d-4", new Hosting.DiscriminatorMessageExtractor().EntityId(chunk));
        Assert.Null(new Hosting.GeneratorMessageExtractor().EntityId(chunk));
        Assert.Equal("g-0", new Hosting.GeneratorMessageExtractor().EntityId(chunk with { Entity = "g-0" }));
        Assert.Equal(0, AkkaGanSerializer.TensorBytes(chunk));
    }
}
