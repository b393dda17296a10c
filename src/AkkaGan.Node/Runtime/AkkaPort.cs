using System.Net;
using System.Net.Sockets;
using Akka.Remote;
using AkkaGan.Cluster.Configuration;
using AkkaGan.Cluster.Hosting;
using Microsoft.Extensions.Hosting;

namespace AkkaGan.Node.Runtime;

/// <summary>A node could not start: one of its ports is taken (by another node, or anything else).</summary>
public sealed class NodeStartException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Starts a node's host on its Akka port, refusing a port another process listens on. Akka.Remote's DotNetty
/// transport binds with <c>SO_REUSEADDR</c>, which .NET on Linux turns into <c>SO_REUSEPORT</c> as well, so a second
/// node on the same port would bind too and take half the connections meant for the first (its members then join the
/// wrong cluster). Turning reuse off in Akka (<c>tcp-reuse-addr = off</c>) is no way out: a node restarted on its
/// port would then be refused for a minute while the old connections sit in TIME_WAIT. So before the actor system
/// starts, a probe socket binds the port with <c>SO_REUSEADDR</c> alone: Linux refuses it while another socket
/// listens there and allows it over TIME_WAIT. (Two nodes started in the same instant can still both pass the probe.)
/// </summary>
public static class AkkaPort
{
    private const int SolSocket = 1, SoReuseAddr = 2; // Linux <sys/socket.h>

    /// <summary>Throws <see cref="NodeStartException"/> naming the port when another process listens on it (port 0: nothing to check).</summary>
    public static void EnsureFree(MemberOptions member) => EnsureFree(member.Host, member.Port, e => InUse(member, e));

    /// <summary>
    /// The node's other ports, checked like its Akka port before it joins: the control port when <c>--control-port</c>
    /// names it (the default one, when taken, gives way to a free port: see <c>ControlHost</c>), and the health port.
    /// </summary>
    public static void EnsureFree(NodeSettings node, NodeFlags flags)
    {
        if (flags.ControlPort is not null)
            EnsureFree(node.Control.Host, node.Control.Port, e => new NodeStartException($"the control port {node.Control.Host}:{node.Control.Port} is in use by " +
                "another process (another akkagan node?); stop it, or give this node another --control-port (0 = any free port)", e));
        if (node.Probes is { } probes)
            EnsureFree(probes.Host, probes.Port, e => new NodeStartException($"the health port {probes.Host}:{probes.Port} is in use by another process; stop it, " +
                $"or give this node another {(flags.HealthPort is null ? "akkagan.probes.port" : "--health-port")}", e));
    }

    private static void EnsureFree(string host, int port, Func<Exception, NodeStartException> inUse)
    {
        if (port == 0 || !OperatingSystem.IsLinux()) return;
        IPAddress[] addresses;
        try
        {
            addresses = host is "*" or "+" ? [IPAddress.Any] : IPAddress.TryParse(host, out var parsed) ? [parsed] : Dns.GetHostAddresses(host);
        }
        catch (SocketException)
        {
            return; // an unresolvable host fails in Akka's own bind, with its own message
        }
        foreach (var address in addresses.Take(1))
        {
            using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            probe.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
            try
            {
                probe.Bind(new IPEndPoint(address, port));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw inUse(e);
            }
            catch (SocketException)
            {
                // Not a local address, no permission, ...: Akka's bind reports it.
            }
        }
    }

    /// <summary>Checks the port, then starts <paramref name="host"/>; a bind failure in Akka itself becomes the same clear error.</summary>
    public static async Task StartAsync(IHost host, MemberOptions member, CancellationToken ct)
    {
        EnsureFree(member);
        try
        {
            await host.StartAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (BindFailure(e) is { } bind)
        {
            throw bind.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } socket
                ? InUse(member, socket)
                : new NodeStartException($"the Akka port {member.Host}:{member.Port} could not be bound: {bind.InnerException?.Message ?? bind.Message}", e);
        }
    }

    private static NodeStartException InUse(MemberOptions member, Exception inner)
        => new($"the Akka port {member.Host}:{member.Port} is in use by another process (another akkagan node?); stop it, or give this node " +
               "another --port (0 = any free port)", inner);

    private static RemoteTransportException? BindFailure(Exception e)
    {
        for (Exception? current = e; current is not null; current = current.InnerException)
        {
            if (current is RemoteTransportException remote) return remote;
            if (current is AggregateException aggregate && aggregate.InnerExceptions.Select(BindFailure).FirstOrDefault(f => f is not null) is { } found) return found;
        }
        return null;
    }
}
