using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Cluster.Serialization;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using E = AkkaGan.Cluster.Protocol.EntityProtocol;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;
using S = AkkaGan.Cluster.Protocol.StateProtocol;
using Ctl = AkkaGan.Cluster.Protocol.ControlProtocol;
using Disc = AkkaGan.Cluster.Protocol.DiscoveryProtocol;

namespace AkkaGan.Cluster.Tests;

public sealed class SerializerSpecs : Akka.TestKit.Xunit.TestKit
{
    // The production cluster.hocon (serializer binding included), on a local provider.
    private static readonly Config Config = ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(AkkaGanConfig.Default());

    public SerializerSpecs() : base(Config, "serializer-spec") { }

    private static TensorPayload Payload() => TensorCodec.ToPayload(arange(6, float32).reshape(3, 2));

    private static EntitySnapshot Snapshot() => new("d-1", 1e-3, 42, [new NamedPayload("model/w", Payload()), new NamedPayload("optim/m/0", Payload())]);

    /// <summary>One instance of every wire message, with non-default values in every field.</summary>
    private IAkkaGanWireMessage[] Samples()
    {
        var d = new DiscriminatorId(3);
        var g = new GeneratorId(0);
        var actor = TestActor;
        return
        [
            new E.Configure("d-3", 11, "{\"rounds\":5}", actor, "run-20261127T170000.000"),
            new E.GetSnapshot("g-0", 12, 9, actor),
            new E.RestoreSnapshot("d-3", 13, Snapshot(), actor),
            new E.RecoverFromStore("d-3", 14, 500, actor),
            new E.ApplySettings("d-3", 15, "{\"unroll\":3}", true, 9, actor),
            new E.Configured("g-0", 11, "akka.tcp://akkagan@10.0.0.6:4053"),
            new E.SnapshotTaken("d-3", 12, 9, Snapshot()),
            new E.Restored("d-3", 13, "akka.tcp://akkagan@10.0.0.7:4055"),
            new E.SettingsApplied("g-0", 15, 9),
            new E.Rejected("d-3", 16, 7, "TrainStep", "stale round 7, at round 9"),
            new E.HandedOff("g-0", 41, "akka.tcp://akkagan@10.0.0.6:4053", Snapshot() with { EntityId = "g-0" }),
            new D.TrainStep(d, 17, 7, 2, Payload(), actor),
            new D.ComputeFeedback(d, 17, 7, Payload(), actor),
            new D.MeasureFitness(d, 18, 7, Payload(), actor),
            new D.TransferWeights(d, 19, new DiscriminatorId(1), 3e-4, 8, actor),
            new D.AdoptWeights(d, 19, Snapshot(), 3e-4, 8, actor),
            new D.Retire(d, 9),
            new D.TrainStepDone(17, new DiscriminatorStepResult(d.Member, 7, 2, 0.5, 0.1, 1.5, -1.5, 3.25, 0.75)),
            new D.FeedbackComputed(d, 17, 7, 0.75, Payload()),
            new D.FitnessMeasured(d, 18, 7, 0.875),
            new D.WeightsAdopted(d, 19, 8, 3e-4),
            new S.EntityState("d-3", 500, Snapshot()),
            new S.RunPosition("run-a", 500, "{\"rounds\":1000}", 7, [new("g-0", 500), new("d-3", 250)]),
            new G.RunRound(g, 17, 7, 2, [0, 1, 3], [0, 3], TimeSpan.FromSeconds(2.5), actor, 6),
            new G.RoundDeclined(g, 17, 7, "round 6 did not complete with every member"),
            new G.ProduceFitnessBatch(g, 18, 7, [0, 1], actor),
            new G.GetSamples(g, 20, 2500, actor),
            new G.GeneratorStepped(g, 17, new GeneratorStepResult(7, 0.69, 0.01, 0.25, 1e-3), [0, 3]),
            new G.SamplesProduced(g, 20, Payload()),
            new Chunk("d-3", Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e"), 1, 3, "d.snapshot", [1, 2, 3, 4]),
            new BulkRef("g-0", Guid.Parse("7c9e6679-7425-40de-944b-e07fc1f90ae7"), "10.0.0.7:41234", 4_194_331, "g.samples"),
            new Ctl.RunRelayed("gan", "set", ["lr-d", "5e-4", "--member", "d-1"], "127.0.0.1:50412 via akka.tcp://akkagan@10.0.0.7:4055", actor),
            new Ctl.RelayLine("round 486/100000 | G 1.801 D 0.687"),
            new Ctl.RelayDone(false, "'batch' cannot be changed while training"),
            new Ctl.GetRunServed(),
            new Ctl.RunServed("failover-drill"),
            new Disc.GetSeedNodes("akka.tcp://akkagan@10.0.0.8:4053"),
            new Disc.SeedNodesOf("akka.tcp://akkagan@10.0.0.7:4053", ["akka.tcp://akkagan@10.0.0.7:4053", "akka.tcp://akkagan@10.0.0.9:4053"]),
        ];
    }

    private AkkaGanSerializer Serializer => (AkkaGanSerializer)Sys.Serialization.FindSerializerFor(new E.Configured("g-0", 1, ""));

    [Fact]
    public void Every_wire_type_should_have_a_sample_and_a_manifest()
    {
        var wireTypes = typeof(IAkkaGanWireMessage).Assembly.GetTypes()
            .Where(t => typeof(IAkkaGanWireMessage).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .ToHashSet();
        Assert.Equal(wireTypes.OrderBy(t => t.FullName), AkkaGanSerializer.Manifests.Keys.OrderBy(t => t.FullName));
        Assert.Equal(wireTypes.OrderBy(t => t.FullName), Samples().Select(s => s.GetType()).OrderBy(t => t.FullName));
        Assert.Equal(AkkaGanSerializer.Manifests.Count, AkkaGanSerializer.Manifests.Values.Distinct().Count());
    }

    [Fact]
    public void The_serializer_should_be_bound_to_every_wire_message_by_cluster_hocon()
        => Assert.All(Samples(), m => Assert.IsType<AkkaGanSerializer>(Sys.Serialization.FindSerializerFor(m)));

    [Fact]
    public void Every_message_should_round_trip()
    {
        foreach (var message in Samples())
        {
            var manifest = Serializer.Manifest(message);
            var bytes = Serializer.ToBinary(message);
            var back = Serializer.FromBinary(bytes, manifest);
            Assert.IsType(message.GetType(), back);
            // Records with arrays and payloads compare by reference, so compare what goes on the wire.
            Assert.Equal(bytes, Serializer.ToBinary(back));
        }
    }

    [Fact]
    public void Fields_should_survive_the_round_trip()
    {
        var step = new D.TrainStep(new DiscriminatorId(3), 17, 7, 2, Payload(), TestActor);
        var back = (D.TrainStep)Serializer.FromBinary(Serializer.ToBinary(step), Serializer.Manifest(step));
        Assert.Equal(new DiscriminatorId(3), back.Discriminator);
        Assert.Equal((17L, 7L, 2), (back.RequestId, back.Round, back.CriticStep));
        Assert.Equal(TestActor, back.ReplyTo);
        using var tensor = TensorCodec.ToTensor(back.Fake);
        Assert.Equal([3L, 2], tensor.shape);
        Assert.Equal(5f, tensor[2, 1].item<float>());

        var run = new G.RunRound(GeneratorId.Default, 17, 7, 2, [0, 1, 3], [0, 3], TimeSpan.FromMilliseconds(1500), ActorRefs.Nobody, Follows: 6);
        var runBack = (G.RunRound)Serializer.FromBinary(Serializer.ToBinary(run), Serializer.Manifest(run));
        Assert.Equal(6, runBack.Follows);
        Assert.Equal([0, 1, 3], runBack.Critics);
        Assert.Equal([0, 3], runBack.Members);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), runBack.Timeout);
        Assert.True(runBack.ReplyTo.IsNobody());
    }

    [Fact]
    public void Corrupt_bytes_should_raise_SerializationException_naming_the_manifest()
    {
        foreach (var message in Samples())
        {
            var manifest = Serializer.Manifest(message);
            var bytes = Serializer.ToBinary(message);
            if (bytes.Length > 0) // a message without fields (a query) has nothing to truncate
            {
                var truncated = Assert.Throws<SerializationException>(() => Serializer.FromBinary(bytes[..^1], manifest));
                Assert.Contains(manifest, truncated.Message);
            }
            Assert.Throws<SerializationException>(() => Serializer.FromBinary([.. bytes, 7], manifest));
        }
        Assert.Contains("unknown manifest", Assert.Throws<SerializationException>(() => Serializer.FromBinary([1, 2, 3], "nope")).Message);
    }

    [Fact]
    public void A_tensor_with_a_wrong_byte_count_or_a_bad_enum_should_be_rejected()
    {
        var step = new D.TrainStep(new DiscriminatorId(0), 1, 1, 0, new TensorPayload(WireDType.Float32, [3, 2], new byte[24]), TestActor);
        var bytes = Serializer.ToBinary(step);
        // Layout: member (4), request id (8), round (8), critic step (4), dtype (1), rank (1), dims (2 x 8): bump the first dim to 4.
        bytes[4 + 8 + 8 + 4 + 2] = 4;
        var e = Assert.Throws<SerializationException>(() => Serializer.FromBinary(bytes, Serializer.Manifest(step)));
        Assert.Contains("byte count", e.Message);

        var configure = new E.Configure("d-0", 1, "{}", TestActor);
        var raw = Serializer.ToBinary(configure);
        raw[1] = (byte)'x'; // the entity id "d-0" (1 length byte + 3): "x-0" is no entity
        Assert.Contains("not a discriminator id", Assert.Throws<SerializationException>(() => Serializer.FromBinary(raw, Serializer.Manifest(configure))).Message);
    }
}
