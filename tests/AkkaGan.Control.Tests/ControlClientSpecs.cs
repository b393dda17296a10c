using System.Net;
using System.Net.Sockets;

namespace AkkaGan.Control.Tests;

public sealed class ControlClientSpecs
{
    [Fact]
    public async Task Client_should_report_a_closed_port_as_unreachable()
    {
        // Take a free port, then release it so nothing listens there.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var ex = await Assert.ThrowsAsync<ControlConnectionException>(() => ControlClient.ConnectAsync("127.0.0.1", port, ct: TestContext.Current.CancellationToken));
        Assert.Equal($"cannot reach control host 127.0.0.1:{port} (connection refused)", ex.Message);
    }

    [Fact]
    public async Task Client_should_refuse_a_host_that_does_not_start_with_hello()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var connecting = ControlClient.ConnectAsync("127.0.0.1", port, ct: TestContext.Current.CancellationToken);
        using var accepted = await listener.AcceptTcpClientAsync(cancellationToken: TestContext.Current.CancellationToken);
        await ControlFraming.WriteFrameAsync(accepted.GetStream(), new ControlMessages.Output(1, "hi"), ct: TestContext.Current.CancellationToken);
        var ex = await Assert.ThrowsAsync<ControlProtocolException>(() => connecting);
        Assert.Contains("did not start with a hello", ex.Message);
        listener.Stop();
    }
}
