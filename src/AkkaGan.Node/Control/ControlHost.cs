using System.CommandLine;
using System.Net.Sockets;
using AkkaGan.Cluster.Configuration;
using AkkaGan.Control;
using AkkaGan.Core.Settings;

namespace AkkaGan.Node.Control;

/// <summary>
/// The control host every `akkagan train` and `akkagan node` process runs (DESIGN.md section 7): its settings come from
/// <c>akkagan.control</c> in cluster.hocon and the <c>--control-*</c> flags. A port given with <c>--control-port</c>
/// that another process listens on is an error (checked before the node joins, see <c>AkkaPort</c>): a script that
/// names the port must not steer another cluster's node through it. The configured port (9120 by default) gives way
/// to a free one instead, with a line saying where the host listens, so a second training on one machine still runs.
/// </summary>
internal sealed class ControlHost
{
    private readonly Option<string?> _host = new("--control-host") { Description = "Control host address for akkagan-ctl [cluster.hocon: akkagan.control.host, 127.0.0.1]", HelpName = "HOST" };
    private readonly Option<int?> _port = new("--control-port") { Description = "Control host port, 0 = any free port [cluster.hocon: akkagan.control.port, 9120]", HelpName = "PORT" };
    private readonly Option<string?> _token = new("--control-token")
    {
        Description = "Token every control request must carry (warns: every local user sees it in ps; prefer --control-token-file or AKKAGAN_CONTROL_TOKEN) " +
                      "[cluster.hocon: akkagan.control.token]",
        HelpName = "TOKEN",
    };
    private readonly Option<string?> _tokenFile = new("--control-token-file")
    {
        Description = "File holding the operator token every control request must carry; required to bind a non-loopback address " +
                      "[cluster.hocon: akkagan.control.token-file, or AKKAGAN_CONTROL_TOKEN]",
        HelpName = "FILE",
    };
    private readonly Option<string?> _readOnlyTokenFile = new("--control-read-only-token-file")
    {
        Description = "File holding a second token that runs only the commands that show (status, watch, health, cluster show...) " +
                      "[cluster.hocon: akkagan.control.read-only-token-file, or AKKAGAN_CONTROL_READ_ONLY_TOKEN]",
        HelpName = "FILE",
    };

    // The node's other port of its own, beside the control host's (both train and node take it).
    private readonly Option<int?> _metricsPort = new("--metrics-port")
    {
        Description = "Serve OpenTelemetry metrics for Prometheus at http://HOST:PORT/metrics, 0 = none [cluster.hocon: akkagan.metrics.prometheus-port, 0]",
        HelpName = "PORT",
    };

    public static ControlHost AddTo(Command command)
    {
        var host = new ControlHost();
        command.Options.Add(host._host);
        command.Options.Add(host._port);
        command.Options.Add(host._token);
        command.Options.Add(host._tokenFile);
        command.Options.Add(host._readOnlyTokenFile);
        command.Options.Add(host._metricsPort);
        return host;
    }

    /// <summary>The flags given, resolved against the configuration by <see cref="NodeSettings.Bind"/>.</summary>
    public NodeFlags Read(ParseResult parse) => new(parse.GetValue(_host), parse.GetValue(_port), parse.GetValue(_token),
        ControlTokenFile: parse.GetValue(_tokenFile), ControlReadOnlyTokenFile: parse.GetValue(_readOnlyTokenFile), MetricsPort: parse.GetValue(_metricsPort));

    /// <summary>Prints what <paramref name="node"/>'s settings advise against (a token on the command line, a token file others can read).</summary>
    public static void Warn(NodeSettings node)
    {
        foreach (var warning in node.Warnings) Console.Error.WriteLine($"akkagan: warning: {warning}");
    }

    /// <summary>
    /// Starts the host with <paramref name="palettes"/>. When the port is taken: with <paramref name="portGiven"/> (the
    /// <c>--control-port</c> flag) a <see cref="Runtime.NodeStartException"/> naming it, else the host takes a free port
    /// and says so; null (and a warning) only when no port at all can be bound.
    /// </summary>
    public static ControlServer? TryStart(ControlServerOptions options, IEnumerable<IControlPalette> palettes, bool portGiven)
    {
        // Connections the host closes or refuses (idle, slow, over the limit, a wrong token) go to the node's log.
        var server = new ControlServer(options with { Log = options.Log ?? Console.Error.WriteLine }, palettes);
        try
        {
            server.Start();
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && options.Port != 0)
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            if (portGiven)
                throw new Runtime.NodeStartException($"the control port {options.Host}:{options.Port} is in use by another process (another akkagan node?); " +
                                                     "stop it, or give this node another --control-port (0 = any free port)", e);
            Console.WriteLine($"control: {options.Host}:{options.Port} is in use by another process (another akkagan?); this one listens on a free port");
            return TryStart(options with { Port = 0 }, palettes, portGiven);
        }
        catch (SocketException e)
        {
            Console.Error.WriteLine($"akkagan: warning: no control host: {options.Host}:{options.Port} is not available ({e.SocketErrorCode}); " +
                                    "give another with --control-port (0 = any free port)");
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return null;
        }
        var tls = options.Certificate is { } certificate ? $" --tls-thumbprint {ControlClientTls.Fingerprint(certificate)}" : "";
        Console.WriteLine($"control: akkagan-ctl {options.Host}:{server.Port}{tls} ({string.Join(", ", palettes.Select(p => p.Descriptor.Name))})");
        return server;
    }
}
