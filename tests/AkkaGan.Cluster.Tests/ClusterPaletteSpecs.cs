using Akka.Cluster;
using Akka.Configuration;
using AkkaGan.Cluster.Control;
using AkkaGan.Control;

namespace AkkaGan.Cluster.Tests;

/// <summary>The control plane's <c>cluster</c> palette on a real one-node cluster (remoting on loopback, joined to itself).</summary>
public sealed class ClusterPaletteSpecs : Akka.TestKit.Xunit.TestKit
{
    private static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
        akka.cluster.roles = [discriminator]
        """).WithFallback(AkkaGanConfig.Default());

    public ClusterPaletteSpecs() : base(Config, "akkagan") { }

    private async Task<List<string>> Run(string command, params string[] args)
    {
        var lines = new List<string>();
        await foreach (var line in new ClusterPalette(Sys).ExecuteAsync(command, args, CancellationToken.None)) lines.Add(line);
        return lines;
    }

    private Akka.Cluster.Cluster Cluster => Akka.Cluster.Cluster.Get(Sys);

    private void JoinSelf()
    {
        Cluster.Join(Cluster.SelfAddress);
        AwaitCondition(() => Cluster.SelfMember.Status == MemberStatus.Up, TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Show_leader_and_status_should_describe_the_membership()
    {
        JoinSelf();
        var show = await Run("show");
        Assert.Contains(show, l => l.Contains(Cluster.SelfAddress.ToString(), StringComparison.Ordinal) && l.Contains("Up", StringComparison.Ordinal)
                                   && l.Contains("discriminator", StringComparison.Ordinal) && l.Contains("(this node)", StringComparison.Ordinal));
        Assert.Equal("1 member(s), 0 unreachable", show[^1]);
        Assert.Equal(Cluster.SelfAddress.ToString(), Assert.Single(await Run("leader")));
        Assert.Contains("Up roles discriminator", Assert.Single(await Run("status")));
    }

    [Fact]
    public async Task Bad_addresses_and_arguments_should_be_refused_naming_the_problem()
    {
        JoinSelf();
        var notMember = await Assert.ThrowsAsync<ControlCommandException>(() => Run("down", "127.0.0.1:1"));
        Assert.Contains("is not a member (members: " + Cluster.SelfAddress, notMember.Message);
        Assert.Contains("is not a member address", (await Assert.ThrowsAsync<ControlCommandException>(() => Run("join", "nonsense"))).Message);
        Assert.Contains("give the member's ADDRESS", (await Assert.ThrowsAsync<ControlCommandException>(() => Run("down"))).Message);
        Assert.Contains("unexpected arguments", (await Assert.ThrowsAsync<ControlCommandException>(() => Run("show", "x"))).Message);
        Assert.Equal("no unreachable member", Assert.Single(await Run("down-unreachable")));
    }

    [Fact]
    public async Task Tail_should_stream_the_current_members_then_changes_until_cancelled()
    {
        JoinSelf();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var lines = new List<string>();
        var leaving = false;
        try
        {
            await foreach (var line in new ClusterPalette(Sys).ExecuteAsync("tail", [], cancel.Token))
            {
                lines.Add(line);
                if (line.Contains($"up {Cluster.SelfAddress}", StringComparison.Ordinal) && !leaving)
                {
                    leaving = true;
                    Cluster.Leave(Cluster.SelfAddress); // a change after the initial state
                }
                if (line.Contains($"leaving {Cluster.SelfAddress}", StringComparison.Ordinal)) await cancel.CancelAsync();
            }
        }
        catch (OperationCanceledException)
        {
            // the client pressed Ctrl-C
        }
        Assert.Contains(lines, l => l.Contains($"up {Cluster.SelfAddress} (roles discriminator)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains($"leaving {Cluster.SelfAddress}", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Join_and_down_should_add_and_remove_another_node()
    {
        JoinSelf();
        var other = Akka.Actor.ActorSystem.Create("akkagan", Config);
        try
        {
            var otherCluster = Akka.Cluster.Cluster.Get(other);
            var joining = new List<string>();
            await foreach (var line in new ClusterPalette(other).ExecuteAsync("join", [Cluster.SelfAddress.ToString()], CancellationToken.None)) joining.Add(line);
            Assert.Equal($"joining {Cluster.SelfAddress}", Assert.Single(joining));
            AwaitCondition(() => Cluster.State.Members.Any(m => m.Address == otherCluster.SelfAddress && m.Status == MemberStatus.Up), TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
            AwaitCondition(() => otherCluster.SelfMember.Status == MemberStatus.Up, TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
            // A member cannot join a second cluster: Akka would ignore it, so the palette refuses.
            var again = await Assert.ThrowsAsync<ControlCommandException>(async () =>
            {
                await foreach (var _ in new ClusterPalette(other).ExecuteAsync("join", ["127.0.0.1:1"], CancellationToken.None)) { }
            });
            Assert.Contains("is already Up in a cluster of 2 member(s) and cannot join another", again.Message);

            var port = otherCluster.SelfAddress.Port!.Value;
            Assert.Equal($"{otherCluster.SelfAddress} marked down", Assert.Single(await Run("down", $"127.0.0.1:{port}")));
            AwaitCondition(() => Cluster.State.Members.All(m => m.Address != otherCluster.SelfAddress), TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        }
        finally
        {
            await other.Terminate();
        }
    }

    [Fact]
    public async Task Leave_without_an_address_should_take_this_node_out_of_the_cluster()
    {
        JoinSelf();
        Assert.Contains("is leaving the cluster", Assert.Single(await Run("leave")));
        AwaitCondition(() => Cluster.IsTerminated || Cluster.SelfMember.Status is MemberStatus.Leaving or MemberStatus.Exiting or MemberStatus.Removed,
            TimeSpan.FromSeconds(20), cancellationToken: TestContext.Current.CancellationToken);
    }
}
