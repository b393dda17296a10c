using System.Net;
using System.Net.Sockets;
using AkkaGan.Control;

namespace AkkaGan.Ctl.Tests;

/// <summary>A real <see cref="ControlServer"/> on 127.0.0.1, a free port, serving <see cref="EchoPalette"/>.</summary>
internal sealed class CtlHost : IAsyncDisposable
{
    private readonly ControlServer _server;

    private CtlHost(ControlServer server, EchoPalette palette)
    {
        _server = server;
        Palette = palette;
    }

    public EchoPalette Palette { get; }

    public string Address => $"127.0.0.1:{_server.Port}";

    public static CtlHost Start(string token = "", Func<ControlServerOptions, ControlServerOptions>? configure = null)
    {
        var palette = new EchoPalette();
        var options = new ControlServerOptions { Host = "127.0.0.1", Port = 0, Token = token, NodeName = "test-node" };
        var server = new ControlServer(configure?.Invoke(options) ?? options, [palette]);
        server.Start();
        return new CtlHost(server, palette);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    /// <summary>A loopback port nothing listens on: bound, read, released.</summary>
    public static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>What one <see cref="CtlApp.RunAsync"/> call returned and printed.</summary>
internal sealed record CtlRun(int ExitCode, string Output, string Error)
{
    public static Task<CtlRun> RunAsync(
        string[] args, string input = "", IReadOnlyDictionary<string, string>? environment = null, TextWriter? output = null) =>
        RunAsync(args, new StringReader(input), environment, output);

    public static async Task<CtlRun> RunAsync(
        string[] args, TextReader input, IReadOnlyDictionary<string, string>? environment = null, TextWriter? output = null)
    {
        var app = new CtlApp(name => environment?.GetValueOrDefault(name));
        output ??= new StringWriter();
        var error = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var code = await app.RunAsync(args, input, output, error, timeout.Token);
        return new CtlRun(code, output.ToString() ?? "", error.ToString());
    }
}

/// <summary>An interactive user: gives each line only once its gate (a task) has completed, then the end of input.</summary>
internal sealed class GatedReader((string Line, Task Gate)[] lines) : TextReader
{
    private int _next;

    public override async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        if (_next >= lines.Length)
            return null;
        var (line, gate) = lines[_next++];
        await gate.WaitAsync(cancellationToken);
        return line;
    }
}
