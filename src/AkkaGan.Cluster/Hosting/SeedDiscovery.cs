using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Discovery;
using Akka.Event;
using static AkkaGan.Cluster.Protocol.DiscoveryProtocol;

namespace AkkaGan.Cluster.Hosting;

/// <summary>
/// Joins a node to its cluster through Akka.Discovery instead of a seed list: the decision of Akka.Management's
/// Cluster Bootstrap, with the contact points asked over Akka.Remote instead of HTTP (Akka.Management's HTTP endpoint
/// cannot start with the Ceen.Httpd the package source serves: docs/architecture.md, "Hosting"). Every
/// <see cref="DiscoverySettings.ProbeInterval"/> it looks the contact points up and asks each whether it is a member
/// (<see cref="GetSeedNodes"/>); it joins the members the first one names, or, when none is a member, all the required
/// ones answered and nothing changed for <see cref="DiscoverySettings.StableMargin"/>, the contact point with the lowest
/// address joins itself and the others find it on their next probe. It answers other nodes' probes for as long as it runs.
/// </summary>
public sealed class SeedDiscovery : ReceiveActor, IWithTimers
{
    /// <summary>The actor's name under <c>/user</c>: every node that discovers runs one, and probes reach it there.</summary>
    public const string Name = "akkagan-discovery";

    private readonly DiscoverySettings _settings;
    private readonly bool _tls;
    private readonly Action<string> _report;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private HashSet<ContactPoint> _self = [];
    private bool _probing, _joined;
    private string _lastView = "", _lastReport = "";
    private DateTime _viewSince = DateTime.UtcNow;

    /// <param name="tls">Whether the cluster speaks <c>akka.ssl.tcp</c>.</param>
    /// <param name="report">Hears a line each time the discovery's state changes (what it found, what it waits for, whom it joins).</param>
    public SeedDiscovery(DiscoverySettings settings, bool tls, Action<string> report)
    {
        _settings = settings;
        _tls = tls;
        _report = report;
        Receive<GetSeedNodes>(m =>
        {
            var members = _cluster.SelfMember.Status is MemberStatus.Up or MemberStatus.WeaklyUp
                ? _cluster.State.Members.Where(x => x.Status is MemberStatus.Up or MemberStatus.WeaklyUp).Select(x => x.Address.ToString()).ToArray()
                : [];
            _log.Debug("discovery probe from {0}: answering {1} members", m.From, members.Length);
            Sender.Tell(new SeedNodesOf(_cluster.SelfAddress.ToString(), members));
        });
        Receive<Probe>(_ =>
        {
            if (_joined || _probing) return;
            _probing = true;
            ProbeAsync(Context.System, _self).PipeTo(Self);
        });
        Receive<Probed>(OnProbed);
    }

    /// <inheritdoc/>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props on the compute-free default dispatcher (it only waits on the network).</summary>
    public static Props Props(DiscoverySettings settings, bool tls, Action<string> report) => Akka.Actor.Props.Create(() => new SeedDiscovery(settings, tls, report));

    /// <summary>Probes at once, then every probe interval.</summary>
    protected override void PreStart()
    {
        _self = SelfPoints(_cluster.SelfAddress, _settings.Port);
        Timers.StartPeriodicTimer("probe", Probe.Instance, TimeSpan.Zero, _settings.ProbeInterval);
    }

    private sealed class Probe
    {
        public static readonly Probe Instance = new();
    }

    /// <summary>One round's outcome: the contact points found (null: the lookup failed, <paramref name="Error"/>) and each one's answer (null: none).</summary>
    private sealed record Probed(IReadOnlyList<ContactPoint>? Found, IReadOnlyDictionary<ContactPoint, SeedNodesOf?> Answers, string? Error);

    private async Task<Probed> ProbeAsync(ActorSystem system, HashSet<ContactPoint> self)
    {
        IReadOnlyList<ContactPoint> found;
        try
        {
            var resolved = await Discovery.Get(system).LoadServiceDiscovery(_settings.Method)
                .Lookup(new Lookup(_settings.ServiceName), _settings.ProbeInterval).ConfigureAwait(false);
            var port = _settings.Port > 0 ? _settings.Port : self.First().Port;
            found = [.. resolved.Addresses.Select(t => new ContactPoint(t.Host.ToLowerInvariant(), t.Port ?? port)).Distinct().Order()];
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new Probed(null, new Dictionary<ContactPoint, SeedNodesOf?>(), $"the {_settings.Method} lookup of '{_settings.ServiceName}' failed: {e.Message}");
        }
        var answers = await Task.WhenAll(found.Where(p => !self.Contains(p)).Select(async p => (Point: p, Answer: await AskAsync(system, p).ConfigureAwait(false))))
            .ConfigureAwait(false);
        return new Probed(found, answers.ToDictionary(a => a.Point, a => a.Answer), null);
    }

    /// <summary>The contact point's answer; null when nothing listens there yet or it does not answer within the probe interval.</summary>
    private async Task<SeedNodesOf?> AskAsync(ActorSystem system, ContactPoint point)
    {
        // A plain connection first: asking a port nobody listens on would gate the association (and log it) for seconds.
        try
        {
            using var socket = new TcpClient();
            using var timeout = new CancellationTokenSource(_settings.ProbeInterval);
            await socket.ConnectAsync(point.Host, point.Port, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return null;
        }
        var address = MemberOptions.SeedAddress(point.ToString(), _tls);
        try
        {
            return await system.ActorSelection(new RootActorPath(address) / "user" / Name)
                .Ask<SeedNodesOf>(new GetSeedNodes(_cluster.SelfAddress.ToString()), _settings.ProbeInterval).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return null;
        }
    }

    private void OnProbed(Probed probed)
    {
        _probing = false;
        if (_joined) return;
        if (probed.Found is null)
        {
            Report(probed.Error!);
            return;
        }
        var view = string.Join(",", probed.Found.Select(p => $"{p}={(_self.Contains(p) ? "self" : probed.Answers[p] is { } a ? a.Members.Count.ToString() : "-")}"));
        if (view != _lastView)
        {
            _lastView = view;
            _viewSince = DateTime.UtcNow;
        }
        var decision = Decide(_self, probed.Found, probed.Answers, _settings.RequiredContactPoints, DateTime.UtcNow - _viewSince >= _settings.StableMargin);
        switch (decision)
        {
            case Decision.JoinMembers join:
                _joined = true;
                Report($"joining the cluster of {join.Via}: {string.Join(", ", join.Members)}");
                _cluster.JoinSeedNodes(join.Members.Select(Address.Parse));
                Timers.CancelAll();
                break;
            case Decision.Form:
                _joined = true;
                Report($"forming a new cluster: no contact point is a member yet and this node's is the lowest of {probed.Found.Count}");
                _cluster.Join(_cluster.SelfAddress);
                Timers.CancelAll();
                break;
            case Decision.Wait wait:
                Report(wait.Why);
                break;
        }
    }

    private void Report(string line)
    {
        if (line == _lastReport) return;
        _lastReport = line;
        _log.Info("discovery: {0}", line);
        _report(line);
    }

    /// <summary>What a node does with one round of answers.</summary>
    public abstract record Decision
    {
        /// <summary>Join these members (<paramref name="Via"/>: the contact point that named them).</summary>
        public sealed record JoinMembers(ContactPoint Via, IReadOnlyList<string> Members) : Decision;

        /// <summary>Form a new cluster: join itself.</summary>
        public sealed record Form : Decision;

        /// <summary>Probe again; <paramref name="Why"/> says what is missing.</summary>
        public sealed record Wait(string Why) : Decision;
    }

    /// <summary>
    /// The decision of one round: join the members a contact point named (the lowest such contact point's, so every
    /// node picks the same); else, once at least <paramref name="required"/> contact points are found, every one of them
    /// answered (this node's own counts as answered) and the view is <paramref name="stable"/>, form a cluster when this
    /// node is the lowest contact point; else wait.
    /// </summary>
    /// <param name="self">This node's contact points (its address and the IPs its host resolves to).</param>
    /// <param name="found">The contact points discovery found, in order.</param>
    /// <param name="answers">Each other contact point's answer (null: none).</param>
    public static Decision Decide(IReadOnlySet<ContactPoint> self, IReadOnlyList<ContactPoint> found, IReadOnlyDictionary<ContactPoint, SeedNodesOf?> answers,
        int required, bool stable)
    {
        var member = found.Where(p => !self.Contains(p) && answers.GetValueOrDefault(p) is { Members.Count: > 0 }).Order().FirstOrDefault();
        if (member is not null) return new Decision.JoinMembers(member, answers[member]!.Members);
        if (found.Count < required)
            return new Decision.Wait($"found {found.Count} of the {required} contact points required ({Points(found)})");
        var silent = found.Where(p => !self.Contains(p) && answers.GetValueOrDefault(p) is null).ToArray();
        if (silent.Length > 0)
            return new Decision.Wait($"waiting for {Points(silent)} to answer (a node answers at the address it was started with: its --public-host and --port)");
        var lowest = found.Order().First();
        if (!self.Contains(lowest))
            return new Decision.Wait(found.Any(self.Contains)
                ? $"no cluster yet: waiting for the lowest contact point, {lowest}, to form it"
                : $"this node is not among the contact points found ({Points(found)}): waiting for one of them to form the cluster");
        return stable ? new Decision.Form() : new Decision.Wait($"all {found.Count} contact points answered, none is a member: forming once that holds still");
    }

    private static string Points(IEnumerable<ContactPoint> points) => string.Join(", ", points);

    /// <summary>The contact points that are this node: its address, and every IP its host name resolves to.</summary>
    private static HashSet<ContactPoint> SelfPoints(Address self, int discoveredPort)
    {
        var host = self.Host ?? "";
        var port = self.Port ?? discoveredPort;
        var points = new HashSet<ContactPoint> { new(host.ToLowerInvariant(), port) };
        try
        {
            foreach (var ip in IPAddress.TryParse(host, out var parsed) ? [parsed] : Dns.GetHostAddresses(host))
                points.Add(new ContactPoint(ip.ToString(), port));
        }
        catch (SocketException)
        {
            // Only the name itself, then.
        }
        return points;
    }
}
