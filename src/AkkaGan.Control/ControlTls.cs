using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AkkaGan.Control;

/// <summary>
/// How a client trusts a control host that speaks TLS (<c>akkagan.control.tls</c>): by the certificate's SHA-256 (or
/// SHA-1) fingerprint the host prints at start, by a copy of the certificate, or (neither) by the system's trust
/// store and the host name, as for any HTTPS server.
/// </summary>
/// <param name="Thumbprint">Hex SHA-256 or SHA-1 fingerprint of the host's certificate (colons allowed); only that certificate is accepted.</param>
/// <param name="CertificateFile">A PEM or DER file with the host's certificate (deploy/tls/make-certificate.sh writes node.crt); only that certificate is accepted.</param>
public sealed record ControlClientTls(string? Thumbprint = null, string? CertificateFile = null)
{
    /// <summary>TLS 1.2 and 1.3, as for the nodes.</summary>
    public const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>The hex SHA-256 fingerprint of <paramref name="certificate"/>, as a host prints it and <see cref="Thumbprint"/> takes it.</summary>
    public static string Fingerprint(X509Certificate certificate) => certificate.GetCertHashString(HashAlgorithmName.SHA256);

    /// <summary>Checks the settings before connecting: a fingerprint that is not hex, a certificate file that cannot be read.</summary>
    internal (string? Pin, X509Certificate2? Pinned) Resolve()
    {
        if (Thumbprint is not null && CertificateFile is not null)
            throw new ArgumentException("--tls-thumbprint and --tls-certificate: trust the host one way");
        string? pin = null;
        if (Thumbprint is not null)
        {
            pin = Thumbprint.Replace(":", "", StringComparison.Ordinal).Trim().ToUpperInvariant();
            if (pin.Length is not (40 or 64) || !pin.All(Uri.IsHexDigit))
                throw new ArgumentException($"--tls-thumbprint: '{Thumbprint}' is not a SHA-256 (64 hex digits) or SHA-1 (40) fingerprint");
        }
        X509Certificate2? pinned = null;
        if (CertificateFile is not null)
        {
            try
            {
                pinned = X509CertificateLoader.LoadCertificateFromFile(CertificateFile);
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"--tls-certificate: cannot read a certificate from {CertificateFile} ({e.Message.Trim()})", e);
            }
        }
        return (pin, pinned);
    }

    /// <summary>Wraps <paramref name="stream"/> in TLS to <paramref name="endpoint"/>; a failed handshake is a <see cref="ControlConnectionException"/> saying why.</summary>
    internal async Task<Stream> AuthenticateAsync(Stream stream, ControlEndpoint endpoint, CancellationToken ct)
    {
        var (pin, pinned) = Resolve();
        string? refused = null;
        var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = endpoint.Host,
                EnabledSslProtocols = Protocols,
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (certificate is null) return Refuse("it presented no certificate");
                    if (pin is not null)
                        return string.Equals(pin, pin.Length == 64 ? Fingerprint(certificate) : certificate.GetCertHashString(), StringComparison.OrdinalIgnoreCase)
                            || Refuse($"its certificate's fingerprint is {Fingerprint(certificate)}, not the --tls-thumbprint given");
                    if (pinned is not null)
                        return pinned.RawDataMemory.Span.SequenceEqual(certificate.GetRawCertData())
                            || Refuse($"its certificate ({certificate.Subject}, {Fingerprint(certificate)}) is not the one in {CertificateFile}");
                    return errors == SslPolicyErrors.None
                        || Refuse($"its certificate ({certificate.Subject}) is not trusted here ({errors}); pin it with --tls-thumbprint or --tls-certificate");
                },
            }, ct).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new ControlConnectionException(refused is not null
                ? $"control host {endpoint}: refused its TLS certificate: {refused}"
                : $"control host {endpoint}: the TLS handshake failed ({e.Message}); does the host serve TLS (akkagan.control.tls)?", e);
        }

        bool Refuse(string why)
        {
            refused = why;
            return false;
        }
    }
}
