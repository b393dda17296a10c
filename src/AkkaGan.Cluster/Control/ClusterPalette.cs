using System.Globalization;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Cluster;
using AkkaGan.Control;

namespace AkkaGan.Cluster.Control;

/// <summary>
/// The <c>cluster</c> palette of a node's control host (pbm's <c>cluster</c> commands): membership as this node sees
/// it, the leader, and this node's own state. Reads <see cref="Akka.Cluster.Cluster.State"/>; changes nothing yet.
/// </summary>
public sealed class ClusterPalette(ActorSystem system) : IControlPalette
{
    public PaletteDescriptor Descriptor { get; } = new("cluster", "Cluster membership as this node sees it",
    [
        new("show", "Every member: address, status, roles, reachability; the leader and this node are marked", []),
        new("leader", "The cluster's leader", []),
        new("status", "This node: address, status, roles", []),
    ]);

    public async IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, [EnumeratorCancellation] CancellationToken ct)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        if (args.Count > 0) throw new ControlCommandException($"cluster {command} takes no arguments (got '{string.Join(' ', args)}')");
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        switch (command)
        {
            case "show":
                var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
                yield return $"{"address",-40} {"status",-8} {"roles",-36} reachable";
                foreach (var member in state.Members.OrderBy(m => m.Address.ToString(), StringComparer.Ordinal))
                {
                    var marks = (member.Address == state.Leader ? " (leader)" : "") + (member.Address == cluster.SelfAddress ? " (this node)" : "");
                    yield return string.Create(CultureInfo.InvariantCulture,
                        $"{member.Address,-40} {member.Status,-8} {string.Join(",", member.Roles.Order(StringComparer.Ordinal)),-36} {(unreachable.Contains(member.Address) ? "no" : "yes")}{marks}");
                }
                yield return $"{state.Members.Count} member(s), {state.Unreachable.Count} unreachable";
                break;
            case "leader":
                yield return state.Leader?.ToString() ?? "no leader (the cluster has not formed)";
                break;
            default:
                yield return $"{cluster.SelfAddress} {cluster.SelfMember.Status} roles {string.Join(",", cluster.SelfRoles.Order(StringComparer.Ordinal))}";
                break;
        }
    }
}
