using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AkkaGan.Control.Tests;

/// <summary>The control channel over TLS (<see cref="ControlServerOptions.Certificate"/>, <see cref="ControlClientTls"/>).</summary>
public sealed class ControlTlsSpecs : IAsyncDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly ConcurrentQueue<string> _log = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-control-tls-").FullName;

    private CancellationToken Ct => _timeout.Token;

    /// <summary>A self-signed certificate with its key, as deploy/tls/make-certificate.sh makes one.</summary>
    private static X509Certificate2 Certificate(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12, "pw"), "pw");
    }

    private ControlServer Serve(X509Certificate2? certificate, TimeSpan? slow = null)
    {
        var server = new ControlServer(new ControlServerOptions
        {
            Port = 0, NodeName = "node-tls", Certificate = certificate, Log = _log.Enqueue, SlowClientTimeout = slow ?? TimeSpan.FromSeconds(30),
        }, [new EchoPalette()]);
        _owned.Add(server);
        server.Start();
        return server;
    }

    private async Task<ControlClient> ConnectAsync(ControlServer server, ControlClientTls? tls)
    {
        var client = await ControlClient.ConnectAsync(new ControlEndpoint("127.0.0.1", server.Port), ControlFraming.DefaultMaxFrameBytes, tls, Ct);
        _owned.Insert(0, client);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned) await owned.DisposeAsync();
        _timeout.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_client_that_pins_the_hosts_certificate_should_run_commands_over_tls()
    {
        var certificate = Certificate("akkagan-cluster");
        var server = Serve(certificate);
        foreach (var tls in new[]
                 {
                     new ControlClientTls(Thumbprint: ControlClientTls.Fingerprint(certificate)),
                     new ControlClientTls(Thumbprint: string.Join(":", certificate.Thumbprint.Chunk(2).Select(c => new string(c)))), // SHA-1, colons
                     new ControlClientTls(CertificateFile: WritePem(certificate)),
                 })
        {
            var client = await ConnectAsync(server, tls);
            Assert.Equal("node-tls", client.Node);
            var result = await client.ExecuteAsync("echo", "say", ["over", "tls"], ct: Ct);
            Assert.True(result.Ok, result.Error);
            Assert.Equal(["over tls"], result.Lines);
        }
    }

    [Fact]
    public async Task A_client_should_refuse_a_host_whose_certificate_it_does_not_trust_naming_why()
    {
        var server = Serve(Certificate("akkagan-cluster"));
        var other = Certificate("someone-else");
        var pinned = await Assert.ThrowsAsync<ControlConnectionException>(() => ConnectAsync(server, new ControlClientTls(Thumbprint: ControlClientTls.Fingerprint(other))));
        Assert.Contains("refused its TLS certificate: its certificate's fingerprint is", pinned.Message);
        var copy = await Assert.ThrowsAsync<ControlConnectionException>(() => ConnectAsync(server, new ControlClientTls(CertificateFile: WritePem(other))));
        Assert.Contains("is not the one in", copy.Message);
        // A self-signed certificate is not in the system's trust store.
        var system = await Assert.ThrowsAsync<ControlConnectionException>(() => ConnectAsync(server, new ControlClientTls()));
        Assert.Contains("is not trusted here", system.Message);
        Assert.Contains("--tls-thumbprint", system.Message);
    }

    [Fact]
    public async Task Plain_and_tls_peers_that_do_not_match_should_get_an_error_that_says_so()
    {
        // A plain client to a TLS host: the host waits for a handshake (the slow-client timeout), then closes.
        var tlsHost = Serve(Certificate("akkagan-cluster"), slow: TimeSpan.FromMilliseconds(500));
        var plain = await Assert.ThrowsAsync<ControlConnectionException>(() => ConnectAsync(tlsHost, null));
        Assert.Contains("does it serve TLS", plain.Message);
        Assert.Contains(_log, l => l.Contains("no TLS handshake within 0.5 s", StringComparison.Ordinal));
        // A TLS client to a plain host.
        var plainHost = Serve(null);
        var tls = await Assert.ThrowsAsync<ControlConnectionException>(() => ConnectAsync(plainHost, new ControlClientTls(Thumbprint: new string('A', 64))));
        Assert.Contains("TLS handshake failed", tls.Message);
        // The host goes on serving.
        Assert.True((await (await ConnectAsync(plainHost, null)).ExecuteAsync("echo", "say", ["still"], ct: Ct)).Ok);
    }

    [Fact]
    public async Task Bad_tls_settings_should_be_refused_before_connecting()
    {
        Assert.Contains("is not a SHA-256", (await Assert.ThrowsAsync<ArgumentException>(() =>
            ControlClient.ConnectAsync(new ControlEndpoint("127.0.0.1", 1), 1024, new ControlClientTls(Thumbprint: "xyz"), Ct))).Message);
        Assert.Contains("cannot read a certificate from", (await Assert.ThrowsAsync<ArgumentException>(() =>
            ControlClient.ConnectAsync(new ControlEndpoint("127.0.0.1", 1), 1024, new ControlClientTls(CertificateFile: Path.Combine(_dir, "none.crt")), Ct))).Message);
        using var keyless = X509CertificateLoader.LoadCertificate(Certificate("x").RawData);
        Assert.Contains("holds no private key", Assert.Throws<ArgumentException>(() => new ControlServerOptions { Certificate = keyless }.Validate()).Message);
    }

    private string WritePem(X509Certificate2 certificate)
    {
        var path = Path.Combine(_dir, $"{Guid.NewGuid():N}.crt");
        File.WriteAllText(path, certificate.ExportCertificatePem());
        return path;
    }
}
