using System.Buffers.Binary;
using System.Net.Sockets;
using static AkkaGan.Control.ControlMessages;

namespace AkkaGan.Control.Tests;

public sealed class ControlServerSpecs : IAsyncDisposable
{
    // A ceiling on every network wait so a broken host fails the test instead of hanging it.
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly EchoPalette _echo = new();

    private CancellationToken Ct => _timeout.Token;

    private ControlServer Serve(ControlServerOptions? options = null)
    {
        var server = new ControlServer(options ?? new ControlServerOptions { Port = 0, NodeName = "node-1" }, [_echo]);
        _owned.Add(server);
        server.Start();
        return server;
    }

    private async Task<ControlClient> ConnectAsync(ControlServer server)
    {
        var client = await ControlClient.ConnectAsync("127.0.0.1", server.Port, Ct);
        _owned.Insert(0, client);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
            await owned.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task Server_should_greet_with_node_and_palettes()
    {
        var client = await ConnectAsync(Serve());
        Assert.Equal(Protocol, client.Hello.Protocol);
        Assert.Equal("node-1", client.Node);
        var palette = Assert.Single(client.Palettes);
        Assert.Equal("echo", palette.Name);
        Assert.Equal(["say", "count", "gate", "fail", "peek", "flood"], palette.Commands.Select(c => c.Name));
        Assert.Equal(["peek"], palette.Commands.Where(c => c.ReadOnly).Select(c => c.Name));
        Assert.Equal(ArgumentKind.Option, palette.Commands[1].Arguments.Single().Kind);
    }

    [Fact]
    public async Task Server_should_answer_a_command_with_its_output()
    {
        var client = await ConnectAsync(Serve());
        var result = await client.ExecuteAsync("echo", "say", ["hello", "world"], ct: Ct);
        Assert.True(result.Ok, result.Error);
        Assert.Equal(["hello world"], result.Lines);
        var second = await client.ExecuteAsync("echo", "say", ["again"], ct: Ct);
        Assert.Equal(["again"], second.Lines);
    }

    [Fact]
    public async Task Server_should_stream_output_lines_in_order_before_done()
    {
        var client = await ConnectAsync(Serve());
        var seen = new List<string>();
        var counted = await client.ExecuteAsync("echo", "count", ["-n", "50"], onOutput: seen.Add, ct: Ct);
        Assert.True(counted.Ok, counted.Error);
        Assert.Equal(Enumerable.Range(1, 50).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), seen);
        Assert.Equal(seen, counted.Lines);

        // "gate" only finishes once the test has seen its first line: a host that buffered until done would hang here.
        var gated = await client.ExecuteAsync("echo", "gate", [], onOutput: line =>
        {
            if (line == "waiting")
                _echo.Gate.TrySetResult();
        }, ct: Ct);
        Assert.Equal(["waiting", "opened"], gated.Lines);
    }

    [Fact]
    public async Task Server_should_list_the_valid_palettes_and_commands_for_unknown_ones()
    {
        var client = await ConnectAsync(Serve());
        var palette = await client.ExecuteAsync("train", "start", [], ct: Ct);
        Assert.False(palette.Ok);
        Assert.Equal("unknown palette 'train'; valid palettes: echo", palette.Error);
        var command = await client.ExecuteAsync("echo", "shout", [], ct: Ct);
        Assert.Equal("unknown command 'shout' in palette 'echo'; valid commands: say, count, gate, fail, peek, flood", command.Error);
    }

    [Fact]
    public async Task Server_should_turn_command_errors_into_a_failed_done_and_keep_serving()
    {
        var client = await ConnectAsync(Serve());
        var failed = await client.ExecuteAsync("echo", "fail", [], ct: Ct);
        Assert.Equal((false, "fail always fails"), (failed.Ok, failed.Error));
        var badArgs = await client.ExecuteAsync("echo", "count", ["--bogus"], ct: Ct);
        Assert.Equal("unknown option '--bogus'; valid options: -n", badArgs.Error);
        Assert.True((await client.ExecuteAsync("echo", "say", ["still", "here"], ct: Ct)).Ok);
    }

    [Fact]
    public async Task Server_should_require_the_token_when_one_is_set()
    {
        var server = Serve(new ControlServerOptions { Port = 0, Token = "s3cret" });
        var client = await ConnectAsync(server);
        foreach (var wrong in new[] { null, "", "s3cre", "s3cret!", "S3CRET" })
        {
            var refused = await client.ExecuteAsync("echo", "say", ["x"], token: wrong, ct: Ct);
            Assert.Equal((false, "unauthorized: wrong or missing token"), (refused.Ok, refused.Error));
            Assert.Empty(refused.Lines);
        }
        var accepted = await client.ExecuteAsync("echo", "say", ["x"], token: "s3cret", ct: Ct);
        Assert.Equal((true, (string?)null, "x"), (accepted.Ok, accepted.Error, accepted.Lines.Single()));
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("10.1.2.3")]
    [InlineData("::")]
    public void Server_should_refuse_a_non_loopback_bind_without_a_token(string host)
    {
        var ex = Assert.Throws<ControlSecurityException>(() => new ControlServer(new ControlServerOptions { Host = host }, [_echo]));
        Assert.Equal($"control host {host}:9120: binding a non-loopback address needs a token (akkagan.control.token-file or AKKAGAN_CONTROL_TOKEN)", ex.Message);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.4.5.6")]
    [InlineData("::1")]
    [InlineData("localhost")]
    public void Options_should_allow_loopback_without_a_token(string host) =>
        new ControlServerOptions { Host = host }.Validate();

    [Fact]
    public async Task Server_should_bind_any_address_when_a_token_is_set()
    {
        var server = Serve(new ControlServerOptions { Host = "0.0.0.0", Port = 0, Token = "t" });
        Assert.NotEqual(0, server.Port);
        var client = await ConnectAsync(server);
        Assert.True((await client.ExecuteAsync("echo", "say", ["ok"], token: "t", ct: Ct)).Ok);
    }

    [Fact]
    public async Task Server_should_drop_a_connection_that_sends_garbage_and_serve_the_next()
    {
        var server = Serve();
        using (var raw = new TcpClient())
        {
            await raw.ConnectAsync("127.0.0.1", server.Port, Ct);
            var stream = raw.GetStream();
            Assert.IsType<Hello>(await ControlFraming.ReadFrameAsync(stream, ct: Ct));
            var header = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(header, 5_000_000);
            await stream.WriteAsync(header, Ct);
            var farewell = Assert.IsType<Done>(await ControlFraming.ReadFrameAsync(stream, ct: Ct));
            Assert.Equal((0, false), (farewell.Id, farewell.Ok));
            Assert.Contains("frame of 5000000 bytes exceeds the 1048576-byte limit", farewell.Error);
            Assert.Null(await ControlFraming.ReadFrameAsync(stream, ct: Ct)); // the host hung up
        }
        using (var raw = new TcpClient())
        {
            await raw.ConnectAsync("127.0.0.1", server.Port, Ct);
            var stream = raw.GetStream();
            await ControlFraming.ReadFrameAsync(stream, ct: Ct);
            await ControlFraming.WriteFrameAsync(stream, new Output(1, "a client may not send output"), Ct);
            Assert.Contains("expected a request frame", Assert.IsType<Done>(await ControlFraming.ReadFrameAsync(stream, ct: Ct)).Error);
        }
        var client = await ConnectAsync(server);
        Assert.Equal(["fine"], (await client.ExecuteAsync("echo", "say", ["fine"], ct: Ct)).Lines);
    }

    [Fact]
    public async Task Disposing_the_server_should_close_its_connections()
    {
        var server = Serve();
        var client = await ConnectAsync(server);
        await server.DisposeAsync();
        await Assert.ThrowsAsync<ControlConnectionException>(() => client.ExecuteAsync("echo", "say", ["x"], ct: Ct));
    }

    [Fact]
    public void Server_should_refuse_a_palette_registered_twice() =>
        Assert.Contains("palette 'echo' is registered twice",
            Assert.Throws<ArgumentException>(() => new ControlServer(new ControlServerOptions(), [_echo, new EchoPalette()])).Message);

    [Fact]
    public async Task A_read_only_token_should_run_only_read_only_commands_and_the_operator_token_all()
    {
        var log = new List<string>();
        var server = Serve(new ControlServerOptions { Port = 0, Token = "operator", ReadOnlyToken = "reader", Log = l => { lock (log) log.Add(l); } });
        var client = await ConnectAsync(server);
        Assert.Equal(["peeked"], (await client.ExecuteAsync("echo", "peek", [], token: "reader", ct: Ct)).Lines);
        var forbidden = await client.ExecuteAsync("echo", "say", ["x"], token: "reader", ct: Ct);
        Assert.False(forbidden.Ok);
        Assert.Equal("forbidden: the read-only token runs only echo peek; 'echo say' needs the operator token", forbidden.Error);
        Assert.Empty(forbidden.Lines);
        Assert.Equal(["x"], (await client.ExecuteAsync("echo", "say", ["x"], token: "operator", ct: Ct)).Lines);
        Assert.Equal(["peeked"], (await client.ExecuteAsync("echo", "peek", [], token: "operator", ct: Ct)).Lines);
        foreach (var wrong in new[] { null, "", "Reader", "operator " })
            Assert.Equal("unauthorized: wrong or missing token", (await client.ExecuteAsync("echo", "peek", [], token: wrong, ct: Ct)).Error);
        lock (log) Assert.Equal(4, log.Count(l => l.StartsWith("control: refused 'echo peek' from 127.0.0.1:", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("", "reader", "a read-only token needs an operator token too")]
    [InlineData("same", "same", "the read-only token is the operator token")]
    public void A_read_only_token_should_be_refused_without_a_distinct_operator_token(string token, string readOnly, string expected) =>
        Assert.Contains(expected, Assert.Throws<ControlSecurityException>(() => new ControlServerOptions { Token = token, ReadOnlyToken = readOnly }.Validate()).Message);

    [Fact]
    public async Task An_idle_connection_should_be_told_why_and_closed()
    {
        var closed = System.Threading.Channels.Channel.CreateUnbounded<string>();
        var server = Serve(new ControlServerOptions { Port = 0, IdleTimeout = TimeSpan.FromMilliseconds(200), Log = l => closed.Writer.TryWrite(l) });
        using var raw = new TcpClient();
        await raw.ConnectAsync("127.0.0.1", server.Port, Ct);
        var stream = raw.GetStream();
        Assert.IsType<Hello>(await ControlFraming.ReadFrameAsync(stream, ct: Ct));
        // The client says nothing: the host closes the connection once it has been idle for the timeout.
        var farewell = Assert.IsType<Done>(await ControlFraming.ReadFrameAsync(stream, ct: Ct));
        Assert.Equal((0, false, "connection closed: idle for 0.2 s (akkagan.control.idle-timeout); connect again to go on"),
            (farewell.Id, farewell.Ok, farewell.Error));
        Assert.Null(await ControlFraming.ReadFrameAsync(stream, ct: Ct));
        Assert.StartsWith("control: closed the connection from 127.0.0.1:", await closed.Reader.ReadAsync(Ct));

        // A client whose next request comes after the host closed learns why, and that the request was not read.
        var client = await ConnectAsync(server);
        Assert.Contains("idle for 0.2 s", await closed.Reader.ReadAsync(Ct));
        var late = await Assert.ThrowsAsync<ControlConnectionException>(() => client.ExecuteAsync("echo", "say", ["late"], ct: Ct));
        Assert.True(late.RequestUnread);
        Assert.Contains("closed the connection: connection closed: idle for 0.2 s", late.Message);
    }

    [Fact]
    public async Task A_request_that_does_not_arrive_whole_in_time_should_close_the_connection()
    {
        var server = Serve(new ControlServerOptions { Port = 0, SlowClientTimeout = TimeSpan.FromMilliseconds(200) });
        using var raw = new TcpClient();
        await raw.ConnectAsync("127.0.0.1", server.Port, Ct);
        var stream = raw.GetStream();
        Assert.IsType<Hello>(await ControlFraming.ReadFrameAsync(stream, ct: Ct));
        await stream.WriteAsync(new byte[] { 0, 0 }, Ct); // half a header, then nothing (a slowloris)
        var farewell = Assert.IsType<Done>(await ControlFraming.ReadFrameAsync(stream, ct: Ct));
        Assert.Equal("connection closed: its request did not arrive whole within 0.2 s (akkagan.control.slow-client-timeout)", farewell.Error);
        Assert.Null(await ControlFraming.ReadFrameAsync(stream, ct: Ct));
        var client = await ConnectAsync(server);
        Assert.Equal(["fine"], (await client.ExecuteAsync("echo", "say", ["fine"], ct: Ct)).Lines);
    }

    [Fact]
    public async Task A_client_that_does_not_read_its_answer_should_be_cut_off_and_its_command_cancelled()
    {
        var log = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = Serve(new ControlServerOptions { Port = 0, SlowClientTimeout = TimeSpan.FromMilliseconds(300), Log = l => log.TrySetResult(l) });
        using var raw = new TcpClient { ReceiveBufferSize = 4096 };
        await raw.ConnectAsync("127.0.0.1", server.Port, Ct);
        var stream = raw.GetStream();
        Assert.IsType<Hello>(await ControlFraming.ReadFrameAsync(stream, ct: Ct));
        await ControlFraming.WriteFrameAsync(stream, new Request(1, "echo", "flood", []), Ct);
        // It never reads: once the socket buffers are full the host's write waits, times out, and the command is cancelled.
        await _echo.Flooded.Task.WaitAsync(Ct);
        Assert.Contains("it did not take its answer within 0.3 s (akkagan.control.slow-client-timeout)", await log.Task.WaitAsync(Ct));
        var client = await ConnectAsync(server);
        Assert.Equal(["fine"], (await client.ExecuteAsync("echo", "say", ["fine"], ct: Ct)).Lines);
    }

    [Fact]
    public async Task A_connection_over_the_limit_should_be_told_so_and_closed()
    {
        var server = Serve(new ControlServerOptions { Port = 0, MaxConnections = 2 });
        var first = await ConnectAsync(server);
        await ConnectAsync(server);
        var refused = await Assert.ThrowsAsync<ControlConnectionException>(() => ControlClient.ConnectAsync("127.0.0.1", server.Port, Ct));
        Assert.Equal($"control host 127.0.0.1:{server.Port} refused the connection: too many connections: this host serves 2 at once " +
                     "(akkagan.control.max-connections); close one and try again", refused.Message);
        Assert.True(refused.RequestUnread);
        Assert.Equal(["still served"], (await first.ExecuteAsync("echo", "say", ["still", "served"], ct: Ct)).Lines);
    }

    [Theory]
    [InlineData(0, 30, 16, "the idle timeout must be positive")]
    [InlineData(60, 0, 16, "the slow-client timeout must be positive")]
    [InlineData(60, 30, 0, "at least one connection must be allowed")]
    public void Bad_limits_should_be_refused_naming_them(int idleSeconds, int slowSeconds, int connections, string expected) =>
        Assert.Contains(expected, Assert.Throws<ArgumentException>(() => new ControlServerOptions
        {
            IdleTimeout = TimeSpan.FromSeconds(idleSeconds), SlowClientTimeout = TimeSpan.FromSeconds(slowSeconds), MaxConnections = connections,
        }.Validate()).Message);
}
