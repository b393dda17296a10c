using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Hosting;

namespace AkkaGan.Cluster.Hosting;

/// <summary>
/// Before the first round the coordinator's node waits until the cluster can train: enough generator and
/// discriminator nodes are <c>Up</c> and their shard regions are registered with the shard coordinators, so the
/// first <c>Configure</c> spreads the population over every discriminator node (sharding never rebalances a
/// training entity afterwards; see cluster.hocon).
/// </summary>
public static class ClusterReadiness
{
    /// <param name="report">Called with a one-line state whenever it changes ("generator nodes 1/1, discriminator nodes 1/2").</param>
    /// <param name="timeout">How long to wait; then a <see cref="TimeoutException"/> names what is missing.</param>
    public static async Task WaitAsync(ActorSystem system, IActorRegistry registry, int generatorNodes, int discriminatorNodes,
        Action<string> report, TimeSpan timeout, CancellationToken cancellation)
    {
        var deadline = DateTime.UtcNow + timeout;
        var cluster = Akka.Cluster.Cluster.Get(system);
        var generators = registry.Get<GeneratorRegion>();
        var discriminators = registry.Get<DiscriminatorRegion>();
        var last = "";
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            var up = cluster.State.Members.Where(m => m.Status == MemberStatus.Up).ToArray();
            var g = await RegisteredAsync(generators, up, Roles.Generator).ConfigureAwait(false);
            var d = await RegisteredAsync(discriminators, up, Roles.Discriminator).ConfigureAwait(false);
            var state = $"generator nodes {g}/{generatorNodes}, discriminator nodes {d}/{discriminatorNodes}";
            if (state != last) report(last = state);
            if (g >= generatorNodes && d >= discriminatorNodes) return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"the cluster did not form within {timeout.TotalSeconds:F0} s ({state}); are the other nodes started with --seeds pointing here, or with discovery that finds this node?");
            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>Nodes that are Up with <paramref name="role"/> and whose region the shard coordinator knows.</summary>
    private static async Task<int> RegisteredAsync(IActorRef region, Member[] up, string role)
    {
        var withRole = up.Where(m => m.HasRole(role)).Select(m => m.Address).ToHashSet();
        if (withRole.Count == 0) return 0;
        try
        {
            var regions = await region.Ask<CurrentRegions>(GetCurrentRegions.Instance, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            return regions.Regions.Count(withRole.Contains);
        }
        catch (AskTimeoutException)
        {
            return 0; // the shard coordinator is not located yet
        }
    }
}
