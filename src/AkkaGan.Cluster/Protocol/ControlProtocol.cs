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
    /// <param name="Palette">The palette's name (<c>gan</c>); a palette the serving node lacks is refused with
    /// <see cref="RelayDone"/>.</param>
    /// <param name="Command">The command within the palette.</param>
    /// <param name="Args">The command's arguments, as the client gave them.</param>
    /// <param name="Caller">Who asked (the client's address, the nodes the request came through), for palettes that log changes.</param>
    /// <param name="ReplyTo">The requester's short-lived receiver of the answers; the serving node watches it and cancels the
    /// command when it stops.</param>
    public sealed record RunRelayed(string Palette, string Command, IReadOnlyList<string> Args, string Caller, IActorRef ReplyTo) : IAkkaGanWireMessage;

    /// <summary>One output line of a forwarded command.</summary>
    /// <param name="Text">The line as the palette produced it (a null line arrives empty).</param>
    public sealed record RelayLine(string Text) : IAkkaGanWireMessage;

    /// <summary>The forwarded command finished; <paramref name="Error"/> is empty when <paramref name="Ok"/>.</summary>
    /// <param name="Ok">Whether the command ran to its end; false when refused or failed.</param>
    /// <param name="Error">Why it was refused or failed, for the client to show.</param>
    public sealed record RelayDone(bool Ok, string Error) : IAkkaGanWireMessage;

    /// <summary>Which run does the serving node train? Answered with <see cref="RunServed"/>.</summary>
    public sealed record GetRunServed : IAkkaGanWireMessage;

    /// <summary>The run id of the training the serving node runs (empty: it has none).</summary>
    /// <param name="RunId">The run id the node was started with (empty: none).</param>
    public sealed record RunServed(string RunId) : IAkkaGanWireMessage;
}
