using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Hosting;
using Akka.Remote.Transport.DotNetty;
using AkkaGan.Core.Settings;

namespace AkkaGan.Cluster.Hosting;

/// <summary>
/// TLS between the nodes (<c>akkagan.tls</c>): every node presents its certificate (PKCS#12) and accepts only peers
/// whose certificate thumbprint is trusted (mutual TLS, pinned certificates; by default the node's own, so a cluster
/// that shares one certificate works without a certificate authority). A peer with another certificate is refused
/// during the handshake, with an error log line naming its thumbprint.
/// </summary>
public sealed record NodeTls(X509Certificate2 Certificate, IReadOnlySet<string> TrustedThumbprints)
{
    /// <summary>The TLS settings of <paramref name="config"/>, or null when <c>akkagan.tls.enabled</c> is off; bad values throw <see cref="SettingsException"/>.</summary>
    public static NodeTls? From(Config config)
    {
        if (!config.GetBoolean("akkagan.tls.enabled", false)) return null;
        var path = config.GetString("akkagan.tls.certificate", "");
        if (string.IsNullOrWhiteSpace(path)) throw new SettingsException("akkagan.tls.certificate: give the node's certificate (a .pfx/.p12 file with its private key)");
        if (!File.Exists(path)) throw new SettingsException($"akkagan.tls.certificate: {path} not found");
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, config.GetString("akkagan.tls.password", ""));
        }
        catch (CryptographicException e)
        {
            throw new SettingsException($"akkagan.tls.certificate: {path} cannot be read with akkagan.tls.password ({e.Message.Trim()})");
        }
        if (!certificate.HasPrivateKey) throw new SettingsException($"akkagan.tls.certificate: {path} holds no private key");
        var trusted = (config.GetStringList("akkagan.tls.trusted-thumbprints") ?? [])
            .Select(t => t.Replace(":", "", StringComparison.Ordinal).Trim().ToUpperInvariant()).Where(t => t.Length > 0).ToHashSet();
        if (trusted.Count == 0) trusted.Add(certificate.Thumbprint.ToUpperInvariant());
        return new NodeTls(certificate, trusted);
    }

    /// <summary>Akka.Remote's SSL options: mutual authentication, the trusted thumbprints instead of a certificate authority.</summary>
    public SslOptions ToSslOptions() => new()
    {
        X509Certificate = Certificate,
        SuppressValidation = false,
        RequireMutualAuthentication = true,
        ValidateCertificateHostname = false,
        CustomValidator = (certificate, _, peer, _, log) =>
        {
            var thumbprint = certificate?.Thumbprint?.ToUpperInvariant();
            if (thumbprint is not null && TrustedThumbprints.Contains(thumbprint)) return true;
            log.Error("akkagan.tls: refused the connection of {0}: its certificate ({1}) is not in akkagan.tls.trusted-thumbprints",
                peer, thumbprint is null ? "none" : $"thumbprint {thumbprint}, subject {certificate!.Subject}");
            return false;
        },
    };
}
