using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace AkkaGan.Integration.Tests;

/// <summary>akkagan-ctl against the control host of a running `akkagan train`: status, cluster, errors, a clean stop.</summary>
public sealed class ControlSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-ctl-it-").FullName;

    private string Out(string name) => Path.Combine(_dir, name);

    [Fact]
    [Trait("Category", "Slow")]
    public void Akkagan_ctl_should_show_a_running_training_and_stop_it_cleanly()
    {
        var port = FreePort().ToString(CultureInfo.InvariantCulture);
        var endpoint = $"127.0.0.1:{port}";
        using var train = Akkagan.Start(["train", "--rounds", "100000", "--batch", "64", "--unroll", "1", "--eval-every", "5", "--eval-samples", "300",
            "--control-port", port, "--out", Out("run")]);
        try
        {
            var metrics = Out("run/metrics.jsonl");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while ((!File.Exists(metrics) || new FileInfo(metrics).Length == 0) && DateTime.UtcNow < deadline && !train.HasExited) Thread.Sleep(100);
            Assert.False(train.HasExited, "akkagan train exited early");

            var status = Akkagan.Ctl(endpoint, "gan", "status");
            Assert.True(status.ExitCode == 0, status.All);
            Assert.Contains("phase      training (engine cluster", status.Stdout);
            Assert.Contains("d-0", status.Stdout);

            var members = Akkagan.Ctl(endpoint, "cluster", "show");
            Assert.True(members.ExitCode == 0, members.All);
            Assert.Contains("coordinator,discriminator,generator", members.Stdout);
            Assert.Contains("(this node)", members.Stdout);

            var bogus = Akkagan.Ctl(endpoint, "gan", "bogus");
            Assert.Equal(1, bogus.ExitCode);
            Assert.Contains("valid commands: status, watch, stop", bogus.Stderr);

            var stop = Akkagan.Ctl(endpoint, "gan", "stop");
            Assert.True(stop.ExitCode == 0, stop.All);
            Assert.True(train.WaitForExit(60_000), "training did not stop after gan stop");
            Assert.Equal(130, train.ExitCode);
        }
        finally
        {
            if (!train.HasExited) train.Kill(entireProcessTree: true);
        }
        Assert.Contains("\"event\":\"control\"", File.ReadAllText(Out("run/metrics.jsonl")));
        Assert.NotEmpty(Directory.GetFiles(Out("run/checkpoints"), "ckpt-r*.akgc"));
        Assert.Equal(3, Akkagan.Ctl(endpoint, "gan", "status").ExitCode); // the host is gone with the training
    }

    [Fact]
    public void A_non_loopback_control_host_without_a_token_should_be_refused_at_start()
    {
        var result = Akkagan.Run("train", "--control-host", "0.0.0.0", "--out", Out("open"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("binding a non-loopback address needs a token", result.Stderr);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
