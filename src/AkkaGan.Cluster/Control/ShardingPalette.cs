using System.Globalization;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Cluster.Sharding;
using AkkaGan.Control;

namespace AkkaGan.Cluster.Control;

/// <summary>
/// The <c>cluster-sharding</c> palette of a node's control host: <c>regions</c> (every shard type this node knows, the
/// regions of each in the cluster with their shards and entities; this node's own region and proxies are marked) and
/// <c>region-stats -r TYPE</c> (this node's region of TYPE: the entities of each shard). It asks the shard regions with
/// Akka's own monitoring queries, each under <see cref="Timeout"/>, so a region that does not answer is an error, never a hang.
/// </summary>
public sealed class ShardingPalette(ActorSystem system) : IControlPalette
{
    /// <summary>How long a region may take to answer one query.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>How long the region gathers the other regions' statistics: it answers, maybe incomplete, before the ask times out.</summary>
    private static readonly TimeSpan StatsTimeout = Timeout - TimeSpan.FromSeconds(1);

    /// <summary>How many entity ids of a shard <c>region-stats</c> prints before it only counts the rest.</summary>
    private const int ShownIds = 10;

    /// <inheritdoc/>
    public PaletteDescriptor Descriptor { get; } = new("cluster-sharding", "Shard regions, shards and entities as this node sees them",
    [
        new("regions", "Every shard type this node knows and its regions in the cluster (shards, entities); this node's region and proxies are marked", [], ReadOnly: true),
        new("region-stats", "This node's region of a shard type (-r TYPE or --type TYPE): entities per shard and their ids", RegionStatsArguments, ReadOnly: true),
    ]);

    private static readonly ArgumentDescriptor[] RegionStatsArguments =
    [
        new("r", "the shard type (as cluster-sharding regions lists it)", Required: false, ArgumentKind.Option),
        new("type", "the same as -r", Required: false, ArgumentKind.Option),
    ];

    /// <inheritdoc/>
    public async IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, [EnumeratorCancellation] CancellationToken ct)
    {
        var sharding = ClusterSharding.Get(system);
        if (command == "region-stats")
        {
            var parsed = ControlArgs.Parse(args, RegionStatsArguments);
            var type = parsed.Get("r") ?? parsed.Get("type");
            var types = await KnownTypesAsync(sharding, ct).ConfigureAwait(false);
            if (type is null) throw new ControlCommandException($"cluster-sharding region-stats: give the shard type with -r TYPE (known types: {List(types.Keys)})");
            if (!types.TryGetValue(type, out var hostsShards))
                throw new ControlCommandException($"cluster-sharding region-stats: unknown shard type '{type}' (known types: {List(types.Keys)})");
            await foreach (var line in RegionStatsAsync(sharding, type, hostsShards, ct).ConfigureAwait(false)) yield return line;
            yield break;
        }
        if (args.Count > 0) throw new ControlCommandException($"cluster-sharding {command}: unexpected arguments '{string.Join(' ', args)}'");
        await foreach (var line in RegionsAsync(sharding, ct).ConfigureAwait(false)) yield return line;
    }

    private async IAsyncEnumerable<string> RegionsAsync(ClusterSharding sharding, [EnumeratorCancellation] CancellationToken ct)
    {
        var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
        var types = await KnownTypesAsync(sharding, ct).ConfigureAwait(false);
        if (types.Count == 0)
        {
            yield return "no shard type started on this node";
            yield break;
        }
        var regionCount = 0;
        var entityTotal = 0;
        foreach (var (type, hostsShards) in types)
        {
            var region = sharding.ShardRegion(type);
            var regions = await AskAsync<CurrentRegions>(region, GetCurrentRegions.Instance, type, ct).ConfigureAwait(false);
            var stats = await AskAsync<ClusterShardingStats>(region, new GetClusterShardingStats(StatsTimeout), type, ct).ConfigureAwait(false);
            // A region started where the node lacks the type's role runs as a proxy too, and never registers.
            var mark = !hostsShards ? ", proxy on this node (no local region)"
                : regions.Regions.Contains(self) ? ""
                : ", no region of this node registered (a proxy, or not registered yet)";
            yield return $"{type}: {regions.Regions.Count} region(s){mark}";
            yield return $"  {"address",-40} {"shards",6} {"entities",8}";
            foreach (var address in regions.Regions.OrderBy(a => a.ToString(), StringComparer.Ordinal))
            {
                var counts = stats.Regions.TryGetValue(address, out var s)
                    ? (Shards: s.Stats.Count.ToString(CultureInfo.InvariantCulture), Entities: s.Stats.Values.Sum().ToString(CultureInfo.InvariantCulture))
                    : (Shards: "-", Entities: "-");
                entityTotal += s?.Stats.Values.Sum() ?? 0;
                yield return $"  {address,-40} {counts.Shards,6} {counts.Entities,8}{(address == self ? " (this node)" : "")}";
            }
            if (regions.Regions.Any(a => !stats.Regions.ContainsKey(a)))
                yield return $"  (-: the region did not report its statistics within {StatsTimeout.TotalSeconds:0} s)";
            regionCount += regions.Regions.Count;
        }
        yield return $"{types.Count} shard type(s), {regionCount} region(s), {entityTotal} entities";
    }

    private async IAsyncEnumerable<string> RegionStatsAsync(ClusterSharding sharding, string type, bool hostsShards, [EnumeratorCancellation] CancellationToken ct)
    {
        var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
        var region = sharding.ShardRegion(type);
        if (!hostsShards)
        {
            var regions = await AskAsync<CurrentRegions>(region, GetCurrentRegions.Instance, type, ct).ConfigureAwait(false);
            yield return $"{type}: this node has a proxy, no region; the regions are on {(regions.Regions.Count == 0 ? "no node yet" : List(regions.Regions.Select(a => a.ToString())))}";
            yield break;
        }
        var stats = await AskAsync<ShardRegionStats>(region, GetShardRegionStats.Instance, type, ct).ConfigureAwait(false);
        var state = await AskAsync<CurrentShardRegionState>(region, GetShardRegionState.Instance, type, ct).ConfigureAwait(false);
        var ids = state.Shards.ToDictionary(s => s.ShardId, s => s.EntityIds.Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal);
        yield return $"{"shard",-8} {"entities",8}  ids";
        foreach (var shard in stats.Stats.Keys.Union(ids.Keys).Order(Comparer<string>.Create(ShardOrder)))
        {
            var entityIds = ids.GetValueOrDefault(shard) ?? [];
            var shown = string.Join(",", entityIds.Take(ShownIds)) + (entityIds.Count > ShownIds ? $",... ({entityIds.Count - ShownIds} more)" : "");
            var count = stats.Stats.TryGetValue(shard, out var n) ? n : entityIds.Count;
            yield return string.Create(CultureInfo.InvariantCulture, $"{shard,-8} {count,8}  {shown}");
        }
        var failed = stats.Failed.Union(state.Failed).Order(StringComparer.Ordinal).ToList();
        if (failed.Count > 0) yield return $"shards that did not answer in time: {string.Join(", ", failed)}";
        yield return $"{type} on {self}: {stats.Stats.Count} shard(s), {stats.Stats.Values.Sum()} entities";
    }

    /// <summary>
    /// Every shard type this node knows, and whether its region here can host shards. Regions started with
    /// <c>Start</c> are listed by <see cref="ClusterSharding.ShardTypeNames"/>; proxies started with <c>StartProxy</c>
    /// are not, so they are found among the sharding guardian's children and confirmed with <see cref="ClusterSharding.ShardRegionProxy"/>.
    /// </summary>
    private async Task<SortedDictionary<string, bool>> KnownTypesAsync(ClusterSharding sharding, CancellationToken ct)
    {
        var types = new SortedDictionary<string, bool>(StringComparer.Ordinal);
        foreach (var type in sharding.ShardTypeNames) types[type] = true;
        var guardianChildren = await ActorChildren.OfAsync(system, "/system/sharding", ActorChildren.DefaultWindow, ct).ConfigureAwait(false);
        foreach (var child in guardianChildren)
        {
            var name = Uri.UnescapeDataString(child.Path.Name);
            foreach (var candidate in new[] { name, name.EndsWith("Proxy", StringComparison.Ordinal) ? name[..^"Proxy".Length] : null })
                if (candidate is not null && !types.ContainsKey(candidate) && IsProxy(sharding, candidate)) types[candidate] = false;
        }
        return types;
    }

    private static bool IsProxy(ClusterSharding sharding, string type)
    {
        try
        {
            sharding.ShardRegionProxy(type);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static async Task<T> AskAsync<T>(IActorRef region, object query, string type, CancellationToken ct)
    {
        try
        {
            return await region.Ask<T>(query, Timeout, ct).ConfigureAwait(false);
        }
        catch (AskTimeoutException e)
        {
            throw new ControlCommandException($"the {type} shard region did not answer {query.GetType().Name} within {Timeout.TotalSeconds:0} s", e);
        }
    }

    /// <summary>Numeric shard ids (HashCodeMessageExtractor's) in numeric order, others after them in ordinal order.</summary>
    private static int ShardOrder(string a, string b) =>
        (int.TryParse(a, CultureInfo.InvariantCulture, out var x), int.TryParse(b, CultureInfo.InvariantCulture, out var y)) switch
        {
            (true, true) => x.CompareTo(y),
            (true, false) => -1,
            (false, true) => 1,
            _ => string.CompareOrdinal(a, b),
        };

    private static string List(IEnumerable<string> items) => items.Any() ? string.Join(", ", items) : "none";
}
