using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting;
using AkkaGan.Cluster.Configuration;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AkkaGan.Cluster.Tests;

/// <summary>TLS between nodes (<c>akkagan.tls</c>) with self-signed certificates made here: the same certificate joins, another is refused.</summary>
public sealed class TlsSpecs : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-tls-").FullName;
    private readonly List<IHost> _hosts = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var host in Enumerable.Reverse(_hosts))
        {
            await host.StopAsync();
            host.Dispose();
        }
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Certificate(string name)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var path = Path.Combine(_dir, name + ".pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx, "secret"));
        return path;
    }

    private static Config Tls(string certificate, string password = "secret")
        => ConfigurationFactory.ParseString($$"""akkagan.tls { enabled = on, certificate = "{{certificate}}", password = "{{password}}" }""")
            .WithFallback(AkkaGanConfig.Default());

    private async Task<ActorSystem> Start(Config config, int port, string? seed)
    {
        var host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka(MemberOptions.SystemName, builder => builder.AddAkkaGanMember(config,
                new MemberOptions([Roles.Discriminator], "127.0.0.1", port, seed is null ? [] : [seed]), RunData.Create, TimeSpan.FromSeconds(5))))
            .Build();
        await host.StartAsync();
        _hosts.Add(host);
        return host.Services.GetRequiredService<ActorSystem>();
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Nodes_with_the_clusters_certificate_should_join_and_a_node_with_another_should_be_refused()
    {
        var shared = Certificate("akkagan-cluster");
        var seedPort = AkkaGan.Testing.FreePorts.Next();
        var seed = await Start(Tls(shared), seedPort, null);
        var kit = new Akka.TestKit.Xunit.TestKit(seed);
        var errors = kit.CreateTestProbe();
        seed.EventStream.Subscribe(errors.Ref, typeof(Error));

        await Start(Tls(shared), AkkaGan.Testing.FreePorts.Next(), $"127.0.0.1:{seedPort}");
        kit.AwaitAssert(() => Assert.Equal(2, Akka.Cluster.Cluster.Get(seed).State.Members.Count(m => m.Status == MemberStatus.Up)), TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);

        var intruder = await Start(Tls(Certificate("intruder")), AkkaGan.Testing.FreePorts.Next(), $"127.0.0.1:{seedPort}");
        errors.FishForMessage<Error>(e => e.Message.ToString()!.Contains("akkagan.tls: refused the connection", StringComparison.Ordinal)
                                          && e.Message.ToString()!.Contains("CN=intruder", StringComparison.Ordinal), TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        // A positive signal rather than a pause: one more node with the cluster's certificate joins after the refusal.
        // Had the intruder got in, it would be a member by the time the seed has seen the later node Up.
        await Start(Tls(shared), AkkaGan.Testing.FreePorts.Next(), $"127.0.0.1:{seedPort}");
        kit.AwaitAssert(() => Assert.Equal(3, Akka.Cluster.Cluster.Get(seed).State.Members.Count(m => m.Status == MemberStatus.Up)), TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        var intruderAddress = Akka.Cluster.Cluster.Get(intruder).SelfAddress;
        Assert.DoesNotContain(Akka.Cluster.Cluster.Get(seed).State.Members, m => m.Address == intruderAddress);
        Assert.Equal(3, Akka.Cluster.Cluster.Get(seed).State.Members.Count);
    }

    [Fact]
    public void Bad_tls_settings_should_be_refused_naming_the_problem()
    {
        Assert.Contains("give the node's certificate", Assert.Throws<SettingsException>(() => NodeTls.From(Tls(""))).Message);
        Assert.Contains("not found", Assert.Throws<SettingsException>(() => NodeTls.From(Tls(Path.Combine(_dir, "none.pfx")))).Message);
        Assert.Contains("cannot be read with akkagan.tls.password", Assert.Throws<SettingsException>(() => NodeTls.From(Tls(Certificate("x"), "wrong"))).Message);
        Assert.Null(NodeTls.From(AkkaGanConfig.Default()));
        var tls = NodeTls.From(Tls(Certificate("y")))!;
        Assert.Equal([tls.Certificate.Thumbprint.ToUpperInvariant()], tls.TrustedThumbprints);
    }

    [Fact]
    public void The_control_host_should_take_its_own_certificate_or_the_clusters_and_refuse_none()
    {
        static Config With(string hocon, Config under) => ConfigurationFactory.ParseString(hocon).WithFallback(under);
        var cluster = Certificate("akkagan-cluster");
        var own = Certificate("control");
        NodeSettings Bind(Config config) => NodeSettings.Bind(config, new NodeFlags(), "spec");
        Assert.Null(Bind(Tls(cluster)).Control.Certificate);   // off by default
        Assert.Equal("CN=akkagan-cluster", Bind(With("akkagan.control.tls.enabled = on", Tls(cluster))).Control.Certificate!.Subject);
        Assert.Equal("CN=control", Bind(With($$"""akkagan.control.tls { enabled = on, certificate = "{{own}}", password = secret }""", AkkaGanConfig.Default()))
            .Control.Certificate!.Subject);
        Assert.Contains("give akkagan.control.tls.certificate", Assert.Throws<SettingsException>(
            () => Bind(With("akkagan.control.tls.enabled = on", AkkaGanConfig.Default()))).Message);
        Assert.Contains("cannot be read with akkagan.control.tls.password", Assert.Throws<SettingsException>(
            () => Bind(With($$"""akkagan.control.tls { enabled = on, certificate = "{{own}}", password = wrong }""", AkkaGanConfig.Default()))).Message);
        Assert.Contains("not found", Assert.Throws<SettingsException>(
            () => Bind(With("""akkagan.control.tls { enabled = on, certificate = "/nonexistent/c.pfx" }""", AkkaGanConfig.Default()))).Message);
    }
}
