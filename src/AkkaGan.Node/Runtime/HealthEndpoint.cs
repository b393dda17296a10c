using AkkaGan.Cluster.Configuration;
using System.Net;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Settings;

namespace AkkaGan.Node.Runtime;

/// <summary>
/// Liveness and readiness for orchestrators (Kubernetes probes, Docker health checks), on Akka.Management's paths and
/// default port: <c>GET /alive</c> answers 200 while the actor system runs; <c>GET /ready</c> answers 200 once this
/// node is Up in the cluster and the shard region of each of its entity roles answers, 503 otherwise. Both return a
/// small JSON document (status, address, member status, roles, members, unreachable, entities per region).
/// Akka.Management 1.5.73 is served but its HTTP endpoint cannot start with the Ceen.Httpd the package source has
/// (docs/architecture.md, "Hosting"), hence this endpoint.
/// </summary>
public sealed class HealthEndpoint : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ActorSystem _system;
    private readonly IReadOnlyList<string> _roles;
    private readonly CancellationTokenSource _stop = new();

    private HealthEndpoint(ActorSystem system, IReadOnlyList<string> roles, string host, int port)
    {
        _system = system;
        _roles = roles;
        _listener.Prefixes.Add($"http://{(host is "0.0.0.0" or "*" ? "+" : host)}:{port}/");
        _listener.Start();
        Address = $"http://{host}:{port}";
        _ = Task.Run(ServeAsync);
    }

    /// <summary>Where it listens, e.g. <c>http://127.0.0.1:8558</c>.</summary>
    public string Address { get; }

    /// <summary>
    /// Starts the endpoint where <paramref name="probes"/> says (<see cref="NodeSettings"/>); null when off. A port that
    /// cannot be bound is a <see cref="SettingsException"/> naming it.
    /// </summary>
    public static HealthEndpoint? Start(ActorSystem system, IReadOnlyList<string> roles, ProbeSettings? probes)
    {
        if (probes is null) return null;
        try
        {
            return new HealthEndpoint(system, roles, probes.Host, probes.Port);
        }
        catch (HttpListenerException e)
        {
            throw new SettingsException($"health endpoint: cannot listen on {probes.Host}:{probes.Port} ({e.Message})");
        }
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }
            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        var path = context.Request.Url?.AbsolutePath.TrimEnd('/') ?? "";
        var (code, body) = path switch
        {
            "/alive" => _system.WhenTerminated.IsCompleted ? (503, Report("terminated")) : (200, Report("alive")),
            "/ready" => await ReadinessAsync().ConfigureAwait(false),
            _ => (404, new JsonObject { ["error"] = $"unknown path '{path}' (try /alive or /ready)" }),
        };
        var bytes = System.Text.Encoding.UTF8.GetBytes(body.ToJsonString() + "\n");
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength64 = bytes.Length;
        try
        {
            await context.Response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The prober went away.
        }
    }

    private async Task<(int, JsonObject)> ReadinessAsync()
    {
        if (_system.WhenTerminated.IsCompleted) return (503, Report("terminated"));
        var cluster = Akka.Cluster.Cluster.Get(_system);
        if (cluster.SelfMember.Status != MemberStatus.Up) return (503, Report($"not ready: this node is {cluster.SelfMember.Status}"));
        var entities = new JsonObject();
        foreach (var role in _roles.Where(r => r is Roles.Generator or Roles.Discriminator))
        {
            try
            {
                var region = ClusterSharding.Get(_system).ShardRegion(role);
                var state = await region.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                entities[role] = state.Shards.Sum(s => s.EntityIds.Count);
            }
            catch (Exception e) when (e is ArgumentException or AskTimeoutException or InvalidOperationException)
            {
                return (503, Report($"not ready: the {role} region does not answer ({e.Message})"));
            }
        }
        var report = Report("ready");
        report["entities"] = entities;
        return (200, report);
    }

    private JsonObject Report(string status)
    {
        var cluster = Akka.Cluster.Cluster.Get(_system);
        var state = cluster.State;
        return new JsonObject
        {
            ["status"] = status,
            ["address"] = cluster.SelfAddress.ToString(),
            ["member"] = cluster.SelfMember.Status.ToString(),
            ["roles"] = new JsonArray([.. _roles.Select(r => (JsonNode)r)]),
            ["members"] = state.Members.Count(m => m.Status == MemberStatus.Up),
            ["unreachable"] = state.Unreachable.Count,
        };
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        _stop.Dispose();
    }
}
