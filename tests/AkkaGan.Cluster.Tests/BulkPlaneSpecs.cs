using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Cluster.Wire;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// The bulk channel between two actor systems over real remoting on loopback: large messages leave Akka.Remote's
/// connection as a <see cref="BulkRef"/>, are fetched from the sender's node and arrive whole, byte for byte, in the
/// order they were sent; a transfer that cannot be fetched is dropped without holding back the ones behind it.
/// </summary>
public sealed class BulkPlaneSpecs : Akka.TestKit.Xunit.TestKit
{
    private static Config Remote(string extra = "") => ConfigurationFactory.ParseString($"""
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        akka.remote.dot-netty.tcp.port = 0
        {extra}
        """).WithFallback(AkkaGanConfig.Default());

    private readonly ActorSystem _other;

    public BulkPlaneSpecs() : base(Remote(), "bulk-a")
    {
        _other = ActorSystem.Create("bulk-b", Remote());
    }

    /// <summary>Takes every part with a <see cref="WireInbox"/>; tells the probe which parts came and every whole message.</summary>
    private sealed class Receiver : ReceiveActor
    {
        public sealed record Saw(string Part);

        public Receiver(IActorRef probe)
        {
            var inbox = new WireInbox(Context.System, Context.GetLogger());
            Receive<IWirePart>(p =>
            {
                if (p is not BulkArrived) probe.Tell(new Saw(p.GetType().Name));
                inbox.Receive(p, Self, Sender, probe.Tell);
            });
            ReceiveAny(probe.Tell);
        }
    }

    private IActorRef RemoteReceiver(ActorSystem host)
    {
        var local = host.ActorOf(Props.Create(() => new Receiver(TestActor)));
        var address = ((ExtendedActorSystem)host).Provider.DefaultAddress;
        return Sys.ActorSelection(new RootActorPath(address) / local.Path.Elements).ResolveOne(TimeSpan.FromSeconds(10)).Result;
    }

    private static G.SamplesProduced Samples(int floats, long requestId)
        => new(GeneratorId.Default, requestId, TensorCodec.ToPayload(randn(floats, generator: manual_seed(requestId))));

    [Fact]
    public void Large_messages_should_cross_by_the_bulk_channel_whole_and_in_order()
    {
        var receiver = RemoteReceiver(_other);
        var wire = new LargeMessages(Sys);
        var sent = new[] { Samples(1 << 20, 1), Samples(300_000, 2), Samples(1 << 20, 3) }; // 4 MiB, 1.2 MiB, 4 MiB
        foreach (var message in sent) wire.Tell(receiver, message, TestActor);

        var parts = new List<string>();
        var whole = new List<G.SamplesProduced>();
        while (whole.Count < sent.Length)
        {
            switch (ReceiveOne(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken))
            {
                case Receiver.Saw saw: parts.Add(saw.Part); break;
                case G.SamplesProduced samples: whole.Add(samples); break;
                case var other: Assert.Fail($"unexpected {other}"); break;
            }
        }
        Assert.Equal([nameof(BulkRef), nameof(BulkRef), nameof(BulkRef)], parts);
        Assert.Equal([1L, 2L, 3L], whole.Select(w => w.RequestId));
        foreach (var (a, b) in sent.Zip(whole)) Assert.Equal(wire.Serializer.ToBinary(a), wire.Serializer.ToBinary(b));
        Assert.Equal(0, BulkPlane.Get(Sys).Outstanding); // each transfer was served and let go
    }

    [Fact]
    public void A_transfer_that_cannot_be_fetched_should_be_dropped_without_holding_back_the_next()
    {
        var receiver = RemoteReceiver(_other);
        var plane = BulkPlane.Get(Sys);
        var wire = new LargeMessages(Sys);
        // A reference to a transfer nobody offered (or one already served), then a good message behind it: the first
        // is dropped (logged on the receiving node), the second handled.
        receiver.Tell(new BulkRef("", Guid.NewGuid(), plane.Endpoint, 1000, "g.samples"), TestActor);
        wire.Tell(receiver, Samples(1 << 20, 7), TestActor);
        Assert.Equal(nameof(BulkRef), ExpectMsg<Receiver.Saw>(cancellationToken: TestContext.Current.CancellationToken).Part);
        Assert.Equal(nameof(BulkRef), ExpectMsg<Receiver.Saw>(cancellationToken: TestContext.Current.CancellationToken).Part);
        Assert.Equal(7, ExpectMsg<G.SamplesProduced>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken).RequestId);
    }

    [Fact]
    public async Task A_served_transfer_should_not_be_served_again()
    {
        var plane = BulkPlane.Get(Sys);
        var other = BulkPlane.Get(_other);
        var id = plane.Offer(new BulkBytes([1, 2, 3], 3))!.Value;
        using (var fetched = await other.FetchAsync(plane.Endpoint, id, 3, cancellation: TestContext.Current.CancellationToken)) Assert.Equal([1, 2, 3], fetched.Buffer[..fetched.Length]);
        var again = await Assert.ThrowsAsync<IOException>(() => other.FetchAsync(plane.Endpoint, id, 3, cancellation: TestContext.Current.CancellationToken));
        Assert.Contains("not (or no longer) offered", again.Message);
        // A length other than the reference's is refused, and a closed port named.
        var wrong = await Assert.ThrowsAsync<IOException>(() => other.FetchAsync(plane.Endpoint, plane.Offer(new BulkBytes([1, 2], 2))!.Value, 3, cancellation: TestContext.Current.CancellationToken));
        Assert.Contains("2 bytes, the reference says 3", wrong.Message);
        var closed = await Assert.ThrowsAsync<IOException>(() => other.FetchAsync($"127.0.0.1:{AkkaGan.Testing.FreePorts.Next()}", Guid.NewGuid(), 3, cancellation: TestContext.Current.CancellationToken));
        Assert.Contains("cannot reach the bulk channel", closed.Message);
    }

    [Fact]
    public async Task A_kept_connection_the_server_closed_should_be_replaced_without_losing_the_transfer()
    {
        // A server that answers one request per connection and then closes it, as the channel's server does with a
        // connection left idle past `keep`: the second fetch finds its kept connection closed and must reconnect.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var endpoint = $"127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndpoint).Port}";
        var serving = Task.Run(async () =>
        {
            for (var n = 0; n < 2; n++)
            {
                using var client = await listener.AcceptTcpClientAsync(TestContext.Current.CancellationToken);
                var stream = client.GetStream();
                await stream.ReadExactlyAsync(new byte[16], TestContext.Current.CancellationToken);
                await stream.WriteAsync(BitConverter.GetBytes(3L), TestContext.Current.CancellationToken);
                await stream.WriteAsync(new byte[] { 7, 8, (byte)n }, TestContext.Current.CancellationToken);
            }
        }, TestContext.Current.CancellationToken);
        var plane = BulkPlane.Get(_other);
        using (var first = await plane.FetchAsync(endpoint, Guid.NewGuid(), 3, TestContext.Current.CancellationToken)) Assert.Equal([7, 8, 0], first.Buffer[..3]);
        using (var second = await plane.FetchAsync(endpoint, Guid.NewGuid(), 3, TestContext.Current.CancellationToken)) Assert.Equal([7, 8, 1], second.Buffer[..3]);
        await serving;
    }

    [Fact]
    public async Task With_the_channel_full_or_off_large_messages_should_go_as_chunks()
    {
        foreach (var extra in new[] { "akkagan.wire.bulk.max-outstanding = 1000b", "akkagan.wire.bulk.enabled = off" })
        {
            using var sender = ActorSystem.Create("bulk-c", Remote(extra));
            var receiver = RemoteReceiver(_other);
            var message = Samples(300_000, 9);
            new LargeMessages(sender).Tell(receiver, message, TestActor);
            Assert.Equal(nameof(Chunk), ExpectMsg<Receiver.Saw>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken).Part);
            Assert.Equal(9, FishForMessage<G.SamplesProduced>(_ => true, TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken).RequestId);
            Assert.Equal(!extra.Contains("enabled = off"), BulkPlane.Get(sender).Enabled);
            await sender.Terminate();
        }
    }

    protected override void AfterAll()
    {
        _other.Terminate().Wait(TimeSpan.FromSeconds(10));
        base.AfterAll();
    }
}
