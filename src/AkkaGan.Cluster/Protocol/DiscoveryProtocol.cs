namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// How a node started with discovery instead of seed nodes finds its cluster (<c>SeedDiscovery</c>): it asks every
/// contact point discovery names whether it is already a member, over Akka.Remote, and joins the members one answers
/// with; when none is, the contact point with the lowest address forms the cluster.
/// </summary>
public static class DiscoveryProtocol
{
    /// <summary>Is the receiving node a member of a cluster? Answered with <see cref="SeedNodesOf"/>.</summary>
    /// <param name="From">The asking node's address, for the receiver's log.</param>
    public sealed record GetSeedNodes(string From) : IAkkaGanWireMessage;

    /// <summary>The answer of <paramref name="Node"/>: the Up members of its cluster, or none when it is not Up in one yet.</summary>
    /// <param name="Node">The answering node's own address.</param>
    /// <param name="Members">Addresses of the Up (or weakly Up) members, empty while the node itself is not Up.</param>
    public sealed record SeedNodesOf(string Node, IReadOnlyList<string> Members) : IAkkaGanWireMessage;
}
