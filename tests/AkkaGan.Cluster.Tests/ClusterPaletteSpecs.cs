using Akka.Cluster;
using Akka.Configuration;
using AkkaGan.Cluster.Control;
using AkkaGan.Control;

namespace AkkaGan.Cluster.Tests;

/// <summary>The control plane's <c>cluster</c> palette on a real one-node cluster (remoting on loopback, joined to itself).</summary>
public sealed class ClusterPaletteSpecs : Akka.TestKit.Xunit2.TestKit
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
    public async Task Leave_without_an_address_should_take_this_node_out_of_the_cluster()
    {
        JoinSelf();
        Assert.Contains("is leaving the cluster", Assert.Single(await Run("leave")));
        AwaitCondition(() => Cluster.IsTerminated || Cluster.SelfMember.Status is MemberStatus.Leaving or MemberStatus.Exiting or MemberStatus.Removed,
            TimeSpan.FromSeconds(20));
    }
}
