using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Hosting;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using static AkkaGan.Cluster.Protocol.DiscoveryProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>Nodes that find their cluster through Akka.Discovery instead of a seed list (<see cref="SeedDiscovery"/>).</summary>
public sealed class DiscoverySpecs : IAsyncLifetime
{
    private readonly List<IHost> _hosts = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var host in Enumerable.Reverse(_hosts))
        {
            await host.StopAsync();
            host.Dispose();
        }
    }

    private static readonly ContactPoint A = new("10.0.0.1", 4053), B = new("10.0.0.2", 4053), C = new("10.0.0.3", 4053);

    private static SeedNodesOf Answer(ContactPoint from, params string[] members) => new($"akka.tcp://akkagan@{from}", members);

    private static SeedDiscovery.Decision Decide(ContactPoint self, ContactPoint[] found, Dictionary<ContactPoint, SeedNodesOf?> answers, int required = 2, bool stable = true)
        => SeedDiscovery.Decide(new HashSet<ContactPoint> { self }, found, answers, required, stable);

    [Fact]
    public void The_lowest_contact_point_should_form_the_cluster_once_every_one_answered_and_the_view_held_still()
    {
        var none = new Dictionary<ContactPoint, SeedNodesOf?> { [B] = Answer(B), [C] = Answer(C) };
        Assert.IsType<SeedDiscovery.Decision.Form>(Decide(A, [A, B, C], none));
        Assert.Contains("holds still", Assert.IsType<SeedDiscovery.Decision.Wait>(Decide(A, [A, B, C], none, stable: false)).Why);
        // The others wait for it, however long their view has held.
        var fromB = new Dictionary<ContactPoint, SeedNodesOf?> { [A] = Answer(A), [C] = Answer(C) };
        Assert.Contains($"waiting for the lowest contact point, {A}", Assert.IsType<SeedDiscovery.Decision.Wait>(Decide(B, [A, B, C], fromB)).Why);
    }

    [Fact]
    public void A_node_should_wait_for_the_required_contact_points_and_for_every_one_to_answer()
    {
        Assert.Contains("found 2 of the 3 contact points required", Assert.IsType<SeedDiscovery.Decision.Wait>(
            Decide(A, [A, B], new() { [B] = Answer(B) }, required: 3)).Why);
        Assert.Contains($"waiting for {C} to answer", Assert.IsType<SeedDiscovery.Decision.Wait>(
            Decide(A, [A, B, C], new() { [B] = Answer(B), [C] = null })).Why);
        // A node discovery does not list cannot be the lowest: it waits for a listed one to form the cluster.
        Assert.Contains("not among the contact points", Assert.IsType<SeedDiscovery.Decision.Wait>(
            Decide(new ContactPoint("10.0.0.0", 4053), [A, B], new() { [A] = Answer(A), [B] = Answer(B) })).Why);
    }

    [Fact]
    public void A_node_should_join_the_members_a_contact_point_names_even_when_it_is_the_lowest_or_others_are_silent()
    {
        var members = new[] { $"akka.tcp://akkagan@{C}" };
        var decision = Assert.IsType<SeedDiscovery.Decision.JoinMembers>(Decide(A, [A, B, C], new() { [B] = null, [C] = Answer(C, members) }, required: 5));
        Assert.Equal(C, decision.Via);
        Assert.Equal(members, decision.Members);
        // Two contact points in (different) clusters: the lowest one's, so every node picks the same.
        var two = Assert.IsType<SeedDiscovery.Decision.JoinMembers>(Decide(A, [A, B, C], new() { [B] = Answer(B, "b"), [C] = Answer(C, "c") }));
        Assert.Equal(B, two.Via);
    }

    [Fact]
    public void Discovery_settings_should_come_from_the_flags_over_the_configuration_and_refuse_bad_values()
    {
        var config = AkkaGanConfig.Default();
        Assert.Null(DiscoverySettings.Bind(config, null, null));
        var fromFlag = DiscoverySettings.Bind(config, null, "127.0.0.1:4601, Node-B:4602")!;
        Assert.Equal("config", fromFlag.Method);
        Assert.Equal(["127.0.0.1:4601", "Node-B:4602"], fromFlag.ContactPoints);
        Assert.Equal(2, fromFlag.RequiredContactPoints);
        Assert.Contains("\"127.0.0.1:4601\", \"Node-B:4602\"", fromFlag.ToHocon(), StringComparison.Ordinal);
        var dns = DiscoverySettings.Bind(With("akkagan.discovery { method = dns, service-name = gan-headless, port = 4053, required-contact-points = 3 }"), null, null)!;
        Assert.Equal(("dns", "gan-headless", 4053, 3), (dns.Method, dns.ServiceName, dns.Port, dns.RequiredContactPoints));

        Assert.Contains("'nohost' is not HOST:PORT", Refused(config, null, "nohost"));
        Assert.Contains("--discovery: unknown discovery method 'consul'", Refused(config, "consul", null));
        Assert.Contains("needs the contact points", Refused(config, "config", null));
        Assert.Contains("only the config method takes a list", Refused(config, "dns", "10.0.0.1:4053"));
        Assert.Contains("akkagan.discovery.required-contact-points: 0", Refused(With("akkagan.discovery.required-contact-points = 0"), "dns", null));
        Assert.Contains("akkagan.discovery.port: 70000", Refused(With("akkagan.discovery.port = 70000"), "dns", null));
        Assert.Contains("akkagan.discovery.stable-margin must be positive", Refused(With("akkagan.discovery.stable-margin = 0s"), "dns", null));
        Assert.Contains("akkagan.discovery.service-name: empty", Refused(With("akkagan.discovery.service-name = \"\""), "dns", null));
        // Any Akka.Discovery implementation configured under akka.discovery.<name> is a method.
        Assert.Equal("mine", DiscoverySettings.Bind(With("akka.discovery.mine.class = \"My.Discovery, My\""), "mine", null)!.Method);
    }

    private static Config With(string hocon) => ConfigurationFactory.ParseString(hocon).WithFallback(AkkaGanConfig.Default());

    private static string Refused(Config config, string? method, string? points)
        => Assert.Throws<SettingsException>(() => DiscoverySettings.Bind(config, method, points)).Message;

    [Fact]
    public async Task Dns_discovery_should_list_every_address_of_the_name_and_nothing_for_a_name_that_does_not_resolve()
    {
        var dns = new DnsServiceDiscovery(null!);
        var local = await dns.Lookup(new Akka.Discovery.Lookup("localhost"), TimeSpan.FromSeconds(10));
        Assert.Contains(local.Addresses, t => t.Host is "127.0.0.1" or "::1" && t.Port is null);
        Assert.Empty((await dns.Lookup(new Akka.Discovery.Lookup("no-such-node.invalid"), TimeSpan.FromSeconds(10))).Addresses);
    }

    [Fact]
    public async Task Three_nodes_given_only_contact_points_should_form_one_cluster_on_the_lowest()
    {
        var ports = Enumerable.Range(0, 3).Select(_ => AkkaGan.Testing.FreePorts.Next()).ToArray();
        var points = string.Join(",", ports.Select(p => $"127.0.0.1:{p}"));
        var discovery = DiscoverySettings.Bind(With("akkagan.discovery { required-contact-points = 3, stable-margin = 1s, probe-interval = 500ms }"), null, points)!;
        var reports = new ConcurrentDictionary<int, ConcurrentQueue<string>>();
        // Started highest port first: the node that forms the cluster is the lowest contact point, not the first one up.
        var systems = new List<ActorSystem>();
        foreach (var port in ports.OrderDescending())
        {
            var lines = reports.GetOrAdd(port, _ => new ConcurrentQueue<string>());
            var host = new HostBuilder()
                .ConfigureServices(services => services.AddAkka(MemberOptions.SystemName, builder => builder.AddAkkaGanMember(AkkaGanConfig.Default(),
                    new MemberOptions([Roles.Discriminator], "127.0.0.1", port, []) { Discovery = discovery }, RunData.Create, TimeSpan.FromSeconds(5),
                    report: lines.Enqueue)))
                .Build();
            await host.StartAsync(TestContext.Current.CancellationToken);
            _hosts.Add(host);
            systems.Add(host.Services.GetRequiredService<ActorSystem>());
        }
        var kit = new Akka.TestKit.Xunit.TestKit(systems[0]);
        foreach (var system in systems)
            kit.AwaitAssert(() => Assert.Equal(3, Akka.Cluster.Cluster.Get(system).State.Members.Count(m => m.Status == MemberStatus.Up)),
                TimeSpan.FromSeconds(60), cancellationToken: TestContext.Current.CancellationToken);
        var lowest = ports.Min();
        Assert.Contains(reports[lowest], l => l.StartsWith("forming a new cluster", StringComparison.Ordinal));
        foreach (var port in ports.Where(p => p != lowest))
        {
            Assert.DoesNotContain(reports[port], l => l.StartsWith("forming", StringComparison.Ordinal));
            Assert.Contains(reports[port], l => l.StartsWith($"joining the cluster of 127.0.0.1:{lowest}", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Seeds_and_discovery_together_should_be_refused()
    {
        var discovery = DiscoverySettings.Bind(AkkaGanConfig.Default(), null, "127.0.0.1:4601")!;
        var member = new MemberOptions([Roles.Discriminator], "127.0.0.1", 0, ["127.0.0.1:4601"]) { Discovery = discovery };
        var builder = new AkkaConfigurationBuilder(new ServiceCollection(), "spec");
        Assert.Contains("--seeds and discovery config", Assert.Throws<SettingsException>(
            () => builder.AddAkkaGanMember(AkkaGanConfig.Default(), member, RunData.Create, TimeSpan.FromSeconds(5))).Message);
    }
}
