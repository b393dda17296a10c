using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Discovery;

namespace AkkaGan.Cluster.Hosting;

/// <summary>
/// Akka.Discovery by DNS: the A and AAAA records of the service name, one contact point per address, without a port
/// (<see cref="DiscoverySettings.Port"/> fills it in). A Kubernetes headless service (with
/// <c>publishNotReadyAddresses</c>, since a node is ready only once it has joined) or a compose service has a record per
/// pod or container. Akka.Discovery 1.5.73 names an <c>akka-dns</c> method in its reference configuration but ships no
/// such class, hence this one (registered as <see cref="DiscoverySettings.DnsMethod"/>).
/// </summary>
public sealed class DnsServiceDiscovery : ServiceDiscovery
{
    /// <summary>The constructor Akka.Discovery calls.</summary>
    public DnsServiceDiscovery(ExtendedActorSystem system) => _ = system;

    /// <summary>The service name's addresses; none (not an error) while the name does not resolve.</summary>
    public override async Task<Resolved> Lookup(Lookup lookup, TimeSpan resolveTimeout)
    {
        using var timeout = new CancellationTokenSource(resolveTimeout);
        try
        {
            var addresses = await Dns.GetHostAddressesAsync(lookup.ServiceName, timeout.Token).ConfigureAwait(false);
            return new Resolved(lookup.ServiceName, addresses
                .Where(a => a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
                .Distinct()
                .Select(a => new ResolvedTarget(a.ToString(), null, a)));
        }
        catch (SocketException)
        {
            return new Resolved(lookup.ServiceName); // no such name (yet): no contact points
        }
    }
}
