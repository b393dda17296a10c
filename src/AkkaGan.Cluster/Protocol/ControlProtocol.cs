using Akka.Actor;

namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// Control commands forwarded between nodes: a node's control host that lacks a palette (the <c>gan</c> palette lives
/// only on the node that trains) forwards the request to the node that serves it, which streams the answer back.
/// Each request has its own short-lived reply-to actor, so no request id is needed; when it stops
/// (the client left), the serving node cancels the command.
/// </summary>
public static class ControlProtocol
{
    /// <summary>Run <c>palette command args</c> on the serving node for <paramref name="Caller"/>; answer lines, then one <see cref="RelayDone"/>.</summary>
    public sealed record RunRelayed(string Palette, string Command, IReadOnlyList<string> Args, string Caller, IActorRef ReplyTo) : IAkkaGanWireMessage;

    /// <summary>One output line of a forwarded command.</summary>
    public sealed record RelayLine(string Text) : IAkkaGanWireMessage;

    /// <summary>The forwarded command finished; <paramref name="Error"/> is empty when <paramref name="Ok"/>.</summary>
    public sealed record RelayDone(bool Ok, string Error) : IAkkaGanWireMessage;

    /// <summary>Which run does the serving node train? Answered with <see cref="RunServed"/>.</summary>
    public sealed record GetRunServed : IAkkaGanWireMessage;

    /// <summary>The run id of the training the serving node runs (empty: it has none).</summary>
    public sealed record RunServed(string RunId) : IAkkaGanWireMessage;
}
