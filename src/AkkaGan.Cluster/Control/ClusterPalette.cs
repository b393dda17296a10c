using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster;
using AkkaGan.Control;

namespace AkkaGan.Cluster.Control;

/// <summary>
/// The <c>cluster</c> palette of a node's control host (pbm's <c>cluster</c> commands): membership as this node sees
/// it, the leader, this node's own state, and the membership changes an operator makes: join, leave (without an
/// address: this node, e.g. as a Kubernetes preStop hook), down, down-unreachable.
/// </summary>
public sealed class ClusterPalette(ActorSystem system) : IControlPalette
{
    /// <inheritdoc/>
    public PaletteDescriptor Descriptor { get; } = new("cluster", "Cluster membership as this node sees it",
    [
        new("show", "Every member: address, status, roles, reachability; the leader and this node are marked", [], ReadOnly: true),
        new("leader", "The cluster's leader", [], ReadOnly: true),
        new("status", "This node: address, status, roles", [], ReadOnly: true),
        new("join", "Join the cluster of the node at ADDRESS (akka.tcp://akkagan@host:port or host:port)", [Address]),
        new("leave", "Leave gracefully: this node, or the member at ADDRESS", [Address with { Required = false }]),
        new("down", "Mark the member at ADDRESS as down (it is removed without a graceful exit)", [Address]),
        new("down-unreachable", "Down every member this node sees as unreachable", []),
        new("tail", "Stream membership, reachability and leader changes as they happen (the current members first) until Ctrl-C", [], ReadOnly: true),
    ]);

    private static readonly ArgumentDescriptor Address = new("address", "a member's address", Required: true, ArgumentKind.Positional);

    /// <inheritdoc/>
    public async IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, [EnumeratorCancellation] CancellationToken ct)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        if (command == "tail")
        {
            if (args.Count > 0) throw new ControlCommandException($"cluster tail: unexpected arguments '{string.Join(' ', args)}'");
            var events = Channel.CreateUnbounded<string>();
            var relay = system.ActorOf(Props.Create(() => new ClusterEventRelay(events.Writer)));
            try
            {
                await foreach (var line in events.Reader.ReadAllAsync(ct).ConfigureAwait(false)) yield return line;
            }
            finally
            {
                system.Stop(relay);
            }
            yield break;
        }
        var takesAddress = command is "join" or "leave" or "down";
        if (args.Count > (takesAddress ? 1 : 0))
            throw new ControlCommandException($"cluster {command}: unexpected arguments '{string.Join(' ', args)}'");
        if (command is "join" or "down" && args.Count == 0) throw new ControlCommandException($"cluster {command}: give the member's ADDRESS");
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        switch (command)
        {
            case "join":
                var seed = ParseAddress(args[0]);
                // Akka ignores a join from a node that is already a member: say so instead of claiming to join.
                if (cluster.SelfMember.Status is MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Up)
                    throw new ControlCommandException($"this node ({cluster.SelfAddress}) is already {cluster.SelfMember.Status} in a cluster of " +
                                                      $"{state.Members.Count} member(s) and cannot join another; leave it first, or join from a node that is not a member yet");
                cluster.Join(seed);
                yield return $"joining {seed}";
                break;
            case "leave":
                var leaving = args.Count == 0 ? cluster.SelfAddress : Member(state, args[0]);
                cluster.Leave(leaving);
                yield return $"{leaving} is leaving the cluster";
                break;
            case "down":
                var down = Member(state, args[0]);
                cluster.Down(down);
                yield return $"{down} marked down";
                break;
            case "down-unreachable":
                var unreachableMembers = state.Unreachable.Select(m => m.Address).ToArray();
                foreach (var address in unreachableMembers) cluster.Down(address);
                yield return unreachableMembers.Length == 0 ? "no unreachable member" : $"marked down: {string.Join(", ", unreachableMembers)}";
                break;
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

    /// <summary><c>akka.tcp://akkagan@host:port</c>, or <c>host:port</c> for a node of this cluster's system.</summary>
    private Address ParseAddress(string text)
    {
        try
        {
            return text.Contains("://", StringComparison.Ordinal)
                ? Akka.Actor.Address.Parse(text)
                : new Address(Akka.Cluster.Cluster.Get(system).SelfAddress.Protocol, system.Name, text[..text.LastIndexOf(':')], int.Parse(text[(text.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is FormatException or UriFormatException or ArgumentException or OverflowException)
        {
            throw new ControlCommandException($"'{text}' is not a member address (akka.tcp://{system.Name}@host:port or host:port)");
        }
    }

    /// <summary>The member at <paramref name="text"/>; an address that is not a member is an error naming the members.</summary>
    private Address Member(ClusterEvent.CurrentClusterState state, string text)
    {
        var address = ParseAddress(text);
        return state.Members.Any(m => m.Address == address)
            ? address
            : throw new ControlCommandException($"{address} is not a member (members: {string.Join(", ", state.Members.Select(m => m.Address))})");
    }
}

/// <summary>Writes this node's view of cluster events as lines for <c>cluster tail</c>; unsubscribes when stopped.</summary>
internal sealed class ClusterEventRelay : ReceiveActor
{
    public ClusterEventRelay(ChannelWriter<string> lines)
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        Receive<ClusterEvent.IMemberEvent>(e => lines.TryWrite(Line($"{Kind(e)} {e.Member.Address} (roles {string.Join(",", e.Member.Roles.Order(StringComparer.Ordinal))})")));
        Receive<ClusterEvent.UnreachableMember>(e => lines.TryWrite(Line($"unreachable {e.Member.Address}")));
        Receive<ClusterEvent.ReachableMember>(e => lines.TryWrite(Line($"reachable again {e.Member.Address}")));
        Receive<ClusterEvent.LeaderChanged>(e => lines.TryWrite(Line($"leader {e.Leader?.ToString() ?? "none"}")));
        cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.LeaderChanged));
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private static string Kind(ClusterEvent.IMemberEvent e) => e switch
    {
        ClusterEvent.MemberJoined => "joined",
        ClusterEvent.MemberUp => "up",
        ClusterEvent.MemberLeft => "leaving",
        ClusterEvent.MemberExited => "exited",
        ClusterEvent.MemberRemoved => "removed",
        ClusterEvent.MemberWeaklyUp => "weakly up",
        _ => e.GetType().Name,
    };

    private static string Line(string text) => string.Create(CultureInfo.InvariantCulture, $"[{DateTime.UtcNow:HH:mm:ss}] {text}");
}
