using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Control;
using Ctl = AkkaGan.Cluster.Protocol.ControlProtocol;

namespace AkkaGan.Cluster.Control;

/// <summary>
/// Serves this node's palettes to the other nodes' control hosts (<c>/user/akkagan-control</c>; the node that trains
/// serves <c>gan</c>), so an operator can steer the training through any node's control port, as pbm works against
/// any node. Each forwarded command runs as a task that streams its lines to the requester's actor; when that actor
/// stops (its client left, or its node went away) the command is cancelled. The cluster is the trust boundary: the
/// node that received the request has checked its token.
/// </summary>
public sealed class ControlRelayActor : ReceiveActor
{
    /// <summary>The actor's name under <c>/user</c>, the same on every node that serves palettes.</summary>
    public const string Name = "akkagan-control";

    private readonly Dictionary<IActorRef, CancellationTokenSource> _running = [];
    private readonly List<IActorRef> _drainWaiters = [];

    /// <summary>Answer <see cref="Drained"/> once no forwarded command runs (the node is about to leave the cluster).</summary>
    public sealed record Drain;

    /// <summary>The answer to <see cref="Drain"/>: no forwarded command runs any more.</summary>
    public sealed record Drained;

    /// <param name="runId">The run this node trains (empty: none), for a coordinator node that would stand by for it.</param>
    public ControlRelayActor(IReadOnlyList<IControlPalette> palettes, string runId)
    {
        var served = palettes.ToDictionary(p => p.Descriptor.Name, StringComparer.Ordinal);
        var log = Context.GetLogger();
        Receive<Ctl.GetRunServed>(_ => Sender.Tell(new Ctl.RunServed(runId)));
        Receive<Ctl.RunRelayed>(request =>
        {
            if (Refusal(served, request) is { } refusal)
            {
                request.ReplyTo.Tell(new Ctl.RelayDone(false, refusal));
                return;
            }
            var cancel = new CancellationTokenSource();
            if (_running.Remove(request.ReplyTo, out var previous)) previous.Cancel();
            _running[request.ReplyTo] = cancel;
            Context.Watch(request.ReplyTo);
            log.Debug("control: '{0} {1}{2}' from {3}", request.Palette, request.Command,
                request.Args.Count == 0 ? "" : " " + string.Join(' ', request.Args), request.Caller);
            var replyTo = request.ReplyTo;
            RunAsync(served[request.Palette], request, cancel.Token)
                .PipeTo(Self, success: () => new Finished(replyTo, cancel), failure: _ => new Finished(replyTo, cancel));
        });
        Receive<Finished>(f =>
        {
            if (_running.TryGetValue(f.ReplyTo, out var current) && current == f.Cancel)
            {
                _running.Remove(f.ReplyTo);
                Context.Unwatch(f.ReplyTo);
            }
            f.Cancel.Dispose();
            if (_running.Count > 0) return;
            foreach (var waiter in _drainWaiters) waiter.Tell(new Drained());
            _drainWaiters.Clear();
        });
        Receive<Drain>(_ =>
        {
            if (_running.Count == 0) Sender.Tell(new Drained());
            else _drainWaiters.Add(Sender);
        });
        Receive<Terminated>(t =>
        {
            // The requester is gone: its client pressed Ctrl-C or disconnected, or its node left.
            if (_running.Remove(t.ActorRef, out var cancel)) cancel.Cancel();
        });
    }

    /// <summary>Cancels the forwarded commands still running.</summary>
    protected override void PostStop()
    {
        foreach (var cancel in _running.Values) cancel.Cancel();
        _running.Clear();
    }

    private static string? Refusal(Dictionary<string, IControlPalette> served, Ctl.RunRelayed request)
    {
        if (!served.TryGetValue(request.Palette, out var palette))
            return $"this node does not serve the '{request.Palette}' palette (it serves: {string.Join(", ", served.Keys.Order(StringComparer.Ordinal))})";
        return palette.Descriptor.RefuseCommand(request.Command);
    }

    /// <summary>Runs one command to its end, sending each line as it comes and one done; never throws.</summary>
    private static async Task RunAsync(IControlPalette palette, Ctl.RunRelayed request, CancellationToken ct)
    {
        string? error = null;
        try
        {
            await foreach (var line in palette.ExecuteAsync(request.Command, request.Args, request.Caller, ct).ConfigureAwait(false))
                request.ReplyTo.Tell(new Ctl.RelayLine(line ?? ""));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return; // nobody is listening any more
        }
        catch (Exception e)
        {
            error = e.Message;
        }
        request.ReplyTo.Tell(new Ctl.RelayDone(error is null, error ?? ""));
    }

    private sealed record Finished(IActorRef ReplyTo, CancellationTokenSource Cancel);
}

/// <summary>
/// A palette this node does not have, answered by the node that serves it (<see cref="ControlRelayActor"/>): the
/// oldest Up member with <paramref name="role"/> whose relay answers. Its descriptor is the served palette's, so
/// every node's hello offers the same commands and arguments.
/// </summary>
/// <param name="role">The role of the nodes that may serve it (the <c>gan</c> palette: the coordinator role).</param>
/// <param name="noServer">What to answer when no other member has the role (null: say so); a standby says it is about to take over.</param>
public sealed class RelayedPalette(ActorSystem system, PaletteDescriptor served, string role, string? noServer = null) : IControlPalette
{
    /// <summary>The served palette's descriptor, its description saying who answers.</summary>
    public PaletteDescriptor Descriptor { get; } = served with { Description = served.Description + " (answered by the node that trains)" };

    /// <inheritdoc/>
    public IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, CancellationToken ct)
        => ExecuteAsync(command, args, "unknown", ct);

    /// <summary>
    /// Forwards the command, with <paramref name="caller"/> and this node's address, to the control relay of the oldest Up member with the
    /// role, and yields its answer's lines.
    /// </summary>
    public async IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, string caller, [EnumeratorCancellation] CancellationToken ct)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var (server, address) = await FindServerAsync(cluster, ct).ConfigureAwait(false);
        var lines = Channel.CreateUnbounded<string>();
        var request = new Ctl.RunRelayed(served.Name, command, [.. args], $"{caller} via {cluster.SelfAddress}", ActorRefs.Nobody);
        var receiver = system.ActorOf(Props.Create(() => new RelayReceiver(server, address, request, lines.Writer)));
        try
        {
            // A channel completed with an error (the serving node's refusal, or its loss) throws that error here.
            await foreach (var line in lines.Reader.ReadAllAsync(ct).ConfigureAwait(false)) yield return line;
        }
        finally
        {
            // Stopping the receiver tells the serving node to cancel a command still running (a watch).
            system.Stop(receiver);
        }
    }

    private async Task<(IActorRef Server, Akka.Actor.Address Address)> FindServerAsync(Akka.Cluster.Cluster cluster, CancellationToken ct)
    {
        var candidates = ControlRelay.Candidates(cluster, role);
        if (candidates.Count == 0)
            throw new ControlCommandException(noServer ?? $"no other member of this cluster has the {role} role, so none runs a training to answer '{served.Name}' " +
                                              "(akkagan-ctl HOST:PORT cluster show lists the members)");
        return await ControlRelay.FindServerAsync(system, candidates, ct).ConfigureAwait(false)
            ?? throw new ControlCommandException($"no node runs a training yet: none of the {role} members ({string.Join(", ", candidates)}) serves '{served.Name}'");
    }

    /// <summary>Sends the request and turns its answers (or the serving node's loss) into the channel's lines and end.</summary>
    private sealed class RelayReceiver : ReceiveActor
    {
        public RelayReceiver(IActorRef server, Akka.Actor.Address address, Ctl.RunRelayed request, ChannelWriter<string> lines)
        {
            Receive<Ctl.RelayLine>(line => lines.TryWrite(line.Text));
            Receive<Ctl.RelayDone>(done =>
            {
                lines.TryComplete(done.Ok ? null : new ControlCommandException(done.Error));
                Context.Stop(Self);
            });
            Receive<Terminated>(_ =>
            {
                lines.TryComplete(new ControlCommandException($"the node that trains ({address}) went away before the command finished"));
                Context.Stop(Self);
            });
            Context.Watch(server);
            server.Tell(request with { ReplyTo = Self });
        }
    }
}

/// <summary>Starts <see cref="ControlRelayActor"/>.</summary>
public static class ControlRelay
{
    /// <summary>
    /// Serves <paramref name="palettes"/> to the other nodes once this node trains; not at start-up with the other
    /// actors, so that a standby coordinator is never found as a server before it takes over (two standbys could then
    /// forward to each other).
    /// </summary>
    /// <param name="runId">The run this node trains (empty: none).</param>
    public static IActorRef Start(ActorSystem system, IReadOnlyList<IControlPalette> palettes, string runId = "")
        => system.ActorOf(Props.Create(() => new ControlRelayActor(palettes, runId)), ControlRelayActor.Name);

    /// <summary>
    /// Waits (at most <paramref name="timeout"/>) until the forwarded commands of this node's relay have finished, so that a
    /// forwarded <c>gan watch</c> whose training just ended sends its last line and its done before the node leaves
    /// (leaving stops the relay, which would cancel it). Returns at once when this node runs no relay.
    /// </summary>
    public static async Task DrainAsync(ActorSystem system, TimeSpan timeout)
    {
        try
        {
            await system.ActorSelection($"/user/{ControlRelayActor.Name}").Ask<ControlRelayActor.Drained>(new ControlRelayActor.Drain(), timeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AskTimeoutException or ActorNotFoundException)
        {
            // Nothing to wait for, or a command that does not end by itself (another client's watch ends with the node).
        }
    }

    /// <summary>The run id the relay <paramref name="server"/> trains (empty: none or unknown within <see cref="IdentifyTimeout"/>).</summary>
    public static async Task<string> RunServedAsync(IActorRef server, CancellationToken ct)
    {
        try
        {
            return (await server.Ask<Ctl.RunServed>(new Ctl.GetRunServed(), IdentifyTimeout, ct).ConfigureAwait(false)).RunId;
        }
        catch (AskTimeoutException)
        {
            return "";
        }
    }

    /// <summary>How long each candidate node has to say whether it serves.</summary>
    public static readonly TimeSpan IdentifyTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The Up (or weakly up) members with <paramref name="role"/> other than this node, oldest first (where the singleton lives).</summary>
    public static IReadOnlyList<Address> Candidates(Akka.Cluster.Cluster cluster, string role)
        => [.. cluster.State.Members
            .Where(m => m.Status is Akka.Cluster.MemberStatus.Up or Akka.Cluster.MemberStatus.WeaklyUp && m.HasRole(role) && m.Address != cluster.SelfAddress)
            .OrderBy(m => m, Akka.Cluster.Member.AgeOrdering)
            .Select(m => m.Address)];

    /// <summary>
    /// The first of <paramref name="candidates"/> whose <see cref="ControlRelayActor"/> answers <c>Identify</c>: the node
    /// that trains. Null when none does (a node that does not answer within <see cref="IdentifyTimeout"/> is passed over).
    /// </summary>
    public static async Task<(IActorRef Server, Address Address)?> FindServerAsync(ActorSystem system, IReadOnlyList<Address> candidates, CancellationToken ct)
    {
        var answers = candidates.Select(a => system.ActorSelection(new RootActorPath(a) / "user" / ControlRelayActor.Name)
            .Ask<ActorIdentity>(new Identify(a), IdentifyTimeout, ct)).ToArray();
        try
        {
            await Task.WhenAll(answers).ConfigureAwait(false);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // A node that did not answer in time is passed over; the others' answers are used below.
        }
        ct.ThrowIfCancellationRequested();
        for (var i = 0; i < candidates.Count; i++)
            if (answers[i].IsCompletedSuccessfully && answers[i].Result.Subject is { } server)
                return (server, candidates[i]);
        return null;
    }
}
