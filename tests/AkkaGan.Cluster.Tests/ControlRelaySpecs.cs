using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using AkkaGan.Cluster.Control;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Control;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// A palette forwarded between two real cluster nodes (remoting on loopback): this spec's system is a discriminator
/// node without the palette; a second system with the coordinator role serves it through <see cref="ControlRelayActor"/>.
/// </summary>
public sealed class ControlRelaySpecs : Akka.TestKit.Xunit.TestKit
{
    private static Config NodeConfig(string role) => ConfigurationFactory.ParseString($$"""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
        akka.cluster.roles = [{{role}}]
        """).WithFallback(AkkaGanConfig.Default());

    private readonly ActorSystem _trainer;
    private readonly EchoPalette _served = new();

    public ControlRelaySpecs() : base(NodeConfig(Roles.Discriminator), "akkagan")
    {
        _trainer = ActorSystem.Create("akkagan", NodeConfig(Roles.Coordinator));
    }

    protected override void AfterAll()
    {
        _trainer.Terminate().Wait(TimeSpan.FromSeconds(20));
        base.AfterAll();
    }

    private void FormCluster()
    {
        var trainer = Akka.Cluster.Cluster.Get(_trainer);
        trainer.Join(trainer.SelfAddress);
        Akka.Cluster.Cluster.Get(Sys).Join(trainer.SelfAddress);
        AwaitCondition(() => Akka.Cluster.Cluster.Get(Sys).State.Members.Count(m => m.Status == MemberStatus.Up) == 2, TimeSpan.FromSeconds(30));
    }

    private void Serve() => ControlRelay.Start(_trainer, [_served]);

    private RelayedPalette Relayed => new(Sys, _served.Descriptor, Roles.Coordinator);

    private async Task<List<string>> Run(string command, params string[] args)
    {
        var lines = new List<string>();
        await foreach (var line in Relayed.ExecuteAsync(command, args, "127.0.0.1:50000", CancellationToken.None)) lines.Add(line);
        return lines;
    }

    [Fact]
    public async Task A_forwarded_command_should_answer_with_the_serving_nodes_lines_and_its_errors()
    {
        FormCluster();
        Serve();
        var self = Akka.Cluster.Cluster.Get(Sys).SelfAddress;
        Assert.Equal(["lr-d", "5e-4", $"asked by 127.0.0.1:50000 via {self}"], await Run("say", "lr-d", "5e-4"));
        var failed = await Assert.ThrowsAsync<ControlCommandException>(() => Run("fail", "x"));
        Assert.Equal("n-critic must be a positive number (got x)", failed.Message);
        // The relay checks the command itself, too (another node's hello may be older).
        Assert.Contains("unknown command 'nope' in palette 'echo'; valid commands: say, fail, stream",
            (await Assert.ThrowsAsync<ControlCommandException>(async () =>
            {
                var newer = new RelayedPalette(Sys, _served.Descriptor with { Commands = [.. _served.Descriptor.Commands, new("nope", "", [])] }, Roles.Coordinator);
                await foreach (var _ in newer.ExecuteAsync("nope", [], CancellationToken.None)) { }
            })).Message);
        Assert.Contains("(answered by the node that trains)", Relayed.Descriptor.Description);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_client_that_leaves_should_cancel_the_forwarded_stream_on_the_serving_node()
    {
        FormCluster();
        Serve();
        using var cts = new CancellationTokenSource();
        var lines = new List<string>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var line in Relayed.ExecuteAsync("stream", [], "127.0.0.1:50000", cts.Token))
            {
                lines.Add(line);
                cts.Cancel(); // Ctrl-C after the first line
            }
        });
        Assert.Equal(["first"], lines);
        // The serving node's command sees the cancellation (its watch ends) once the requester's actor stops.
        Assert.True(await _served.StreamCancelled.Task.WaitAsync(TimeSpan.FromSeconds(20), cancellationToken: TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Draining_should_wait_for_forwarded_streams_to_end_and_the_run_id_should_be_served()
    {
        FormCluster();
        var relay = ControlRelay.Start(_trainer, [_served], "run-7");
        Assert.Equal("run-7", await ControlRelay.RunServedAsync(relay, CancellationToken.None));
        // Nothing forwarded: drained at once.
        await ControlRelay.DrainAsync(_trainer, TimeSpan.FromSeconds(20)).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        var lines = new List<string>();
        await using var stream = Relayed.ExecuteAsync("stream", [], "127.0.0.1:50000", CancellationToken.None).GetAsyncEnumerator(TestContext.Current.CancellationToken);
        Assert.True(await stream.MoveNextAsync());
        lines.Add(stream.Current);
        var drained = ControlRelay.DrainAsync(_trainer, TimeSpan.FromSeconds(30));
        Assert.False(drained.IsCompleted); // a stream is still running
        _served.EndStreams.SetResult();
        while (await stream.MoveNextAsync()) lines.Add(stream.Current);
        Assert.Equal(["first", "last"], lines);
        await drained.WaitAsync(TimeSpan.FromSeconds(20), cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Without_a_serving_node_the_error_should_say_why()
    {
        var alone = await Assert.ThrowsAsync<ControlCommandException>(() => Run("say"));
        Assert.Contains("no other member of this cluster has the coordinator role", alone.Message);
        FormCluster();
        var notYet = await Assert.ThrowsAsync<ControlCommandException>(() => Run("say"));
        Assert.Contains($"no node runs a training yet: none of the coordinator members ({Akka.Cluster.Cluster.Get(_trainer).SelfAddress}) serves 'echo'", notYet.Message);
    }

    [Fact]
    public async Task A_serving_node_that_goes_away_should_end_the_stream_with_an_error()
    {
        FormCluster();
        Serve();
        var lines = new List<string>();
        var failure = await Assert.ThrowsAsync<ControlCommandException>(async () =>
        {
            await foreach (var line in Relayed.ExecuteAsync("stream", [], "127.0.0.1:50000", CancellationToken.None))
            {
                lines.Add(line);
                _ = _trainer.Terminate();
            }
        });
        Assert.Equal(["first"], lines);
        Assert.Contains("went away before the command finished", failure.Message);
    }

    /// <summary>Echoes its arguments and the caller, fails on request, or streams until cancelled.</summary>
    private sealed class EchoPalette : IControlPalette
    {
        public TaskCompletionSource<bool> StreamCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Ends every stream in progress with a last line (as a training that ends ends its watches).</summary>
        public TaskCompletionSource EndStreams { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public PaletteDescriptor Descriptor { get; } = new("echo", "test palette",
        [
            new("say", "echo", [new("words", "", false, ArgumentKind.Positional)]),
            new("fail", "fail", []),
            new("stream", "stream", []),
        ]);

        public IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, CancellationToken ct) => ExecuteAsync(command, args, "?", ct);

        public async IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, string caller, [EnumeratorCancellation] CancellationToken ct)
        {
            switch (command)
            {
                case "say":
                    foreach (var a in args) yield return a;
                    yield return $"asked by {caller}";
                    break;
                case "fail":
                    throw new ControlCommandException($"n-critic must be a positive number (got {string.Join(' ', args)})");
                default:
                    yield return "first";
                    try
                    {
                        await EndStreams.Task.WaitAsync(ct);
                    }
                    finally
                    {
                        StreamCancelled.TrySetResult(ct.IsCancellationRequested);
                    }
                    yield return "last";
                    break;
            }
        }
    }
}
