namespace AkkaGan.Ctl.Tests;

public sealed class CtlAppSpecs
{
    [Fact]
    public async Task Ctl_should_print_output_lines_and_exit_0_on_success()
    {
        await using var host = CtlHost.Start();
        var run = await CtlRun.RunAsync([host.Address, "echo", "count", "-n", "3"]);
        Assert.Equal(0, run.ExitCode);
        Assert.Equal(["1", "2", "3"], Lines(run.Output));
        Assert.Equal("", run.Error);
    }

    [Fact]
    public async Task Ctl_should_pass_args_through_raw()
    {
        await using var host = CtlHost.Start();
        var run = await CtlRun.RunAsync([host.Address, "echo", "say", "--token", "a b", "-x"]);
        Assert.Equal(0, run.ExitCode);
        Assert.Equal(["--token|a b|-x"], Lines(run.Output));
    }

    [Fact]
    public async Task Ctl_should_print_each_line_before_the_command_finishes()
    {
        await using var host = CtlHost.Start();
        var output = new SignalingWriter("waiting");
        var running = CtlRun.RunAsync([host.Address, "echo", "gate"], output: output);
        await output.Seen.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken: TestContext.Current.CancellationToken);
        Assert.False(running.IsCompleted);
        host.Palette.Gate.SetResult();
        var run = await running;
        Assert.Equal(0, run.ExitCode);
        Assert.Equal(["waiting", "opened"], Lines(run.Output));
    }

    [Fact]
    public async Task Ctl_should_exit_1_with_the_error_when_the_command_fails()
    {
        await using var host = CtlHost.Start();
        var run = await CtlRun.RunAsync([host.Address, "echo", "fail"]);
        Assert.Equal(1, run.ExitCode);
        Assert.Equal("akkagan-ctl: error: fail always fails", run.Error.Trim());
    }

    [Fact]
    public async Task Ctl_should_name_valid_palettes_for_an_unknown_palette()
    {
        await using var host = CtlHost.Start();
        var run = await CtlRun.RunAsync([host.Address, "bogus", "cmd"]);
        Assert.Equal(1, run.ExitCode);
        Assert.Equal("akkagan-ctl: error: unknown palette 'bogus'; valid palettes: echo", run.Error.Trim());
    }

    [Fact]
    public async Task Ctl_should_be_unauthorized_with_a_wrong_or_missing_token()
    {
        await using var host = CtlHost.Start(token: "s3cret");
        var wrong = await CtlRun.RunAsync(["--token", "nope", host.Address, "echo", "say", "hi"]);
        var missing = await CtlRun.RunAsync([host.Address, "echo", "say", "hi"]);
        Assert.Equal((1, 1), (wrong.ExitCode, missing.ExitCode));
        Assert.Contains("unauthorized", wrong.Error);
        Assert.Contains("unauthorized", missing.Error);
    }

    [Fact]
    public async Task Ctl_should_send_the_token_from_the_flag_before_or_after_the_endpoint()
    {
        await using var host = CtlHost.Start(token: "s3cret");
        var before = await CtlRun.RunAsync(["--token", "s3cret", host.Address, "echo", "say", "hi"]);
        var after = await CtlRun.RunAsync([host.Address, "--token=s3cret", "echo", "say", "hi"]);
        Assert.Equal((0, "hi"), (before.ExitCode, before.Output.Trim()));
        Assert.Equal((0, "hi"), (after.ExitCode, after.Output.Trim()));
    }

    [Fact]
    public async Task Ctl_should_read_the_token_from_the_environment()
    {
        await using var host = CtlHost.Start(token: "s3cret");
        var environment = new Dictionary<string, string> { [CtlApp.TokenVariable] = "s3cret" };
        var run = await CtlRun.RunAsync([host.Address, "echo", "say", "hi"], environment: environment);
        Assert.Equal((0, "hi"), (run.ExitCode, run.Output.Trim()));
    }

    [Fact]
    public async Task Ctl_should_prefer_the_flag_over_the_environment()
    {
        await using var host = CtlHost.Start(token: "s3cret");
        var environment = new Dictionary<string, string> { [CtlApp.TokenVariable] = "stale" };
        var run = await CtlRun.RunAsync(["--token", "s3cret", host.Address, "echo", "say", "hi"], environment: environment);
        Assert.Equal(0, run.ExitCode);
    }

    [Fact]
    public async Task Ctl_should_exit_3_when_the_host_is_unreachable()
    {
        var port = CtlHost.ClosedPort();
        var run = await CtlRun.RunAsync([$"127.0.0.1:{port}", "echo", "say", "hi"]);
        Assert.Equal(3, run.ExitCode);
        Assert.StartsWith($"akkagan-ctl: error: cannot reach control host 127.0.0.1:{port}", run.Error);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("localhost:0")]
    [InlineData("localhost:http")]
    public async Task Ctl_should_exit_2_for_a_bad_endpoint(string endpoint)
    {
        var run = await CtlRun.RunAsync([endpoint, "echo", "say"]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"'{endpoint}' is not HOST:PORT", run.Error);
    }

    [Fact]
    public async Task Ctl_should_exit_2_for_a_palette_without_a_command()
    {
        var run = await CtlRun.RunAsync(["127.0.0.1:9120", "echo"]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("needs a command", run.Error);
    }

    [Fact]
    public async Task Ctl_should_print_usage_and_version()
    {
        var help = await CtlRun.RunAsync(["--help"]);
        var version = await CtlRun.RunAsync(["--version"]);
        Assert.Equal((0, 0), (help.ExitCode, version.ExitCode));
        Assert.Contains("usage: akkagan-ctl", help.Output);
        Assert.Contains("AKKAGAN_CONTROL_TOKEN", help.Output);
        Assert.Matches(@"^akkagan-ctl \d+\.\d+\.\d+", version.Output);
    }

    [Fact]
    public async Task Ctl_should_run_an_interactive_session()
    {
        await using var host = CtlHost.Start();
        var script = "help\n\necho say \"hi there\"\nbogus cmd\nhelp echo\nhistory\nexit\necho say never\n";
        var run = await CtlRun.RunAsync([host.Address], script);
        Assert.Equal(0, run.ExitCode);
        var prompt = $"[{host.Address}] akkagan> ";
        Assert.Contains("connected to test-node", run.Output);
        Assert.Equal(7, CountOf(run.Output, prompt)); // one per line up to exit, the empty line included
        Assert.Contains("echo - test commands", run.Output);
        Assert.Contains("  say    echo the arguments", run.Output);
        Assert.Contains("  echo count -n <n>", run.Output);
        Assert.Contains("-n: how many lines (required)", run.Output);
        Assert.Contains(prompt + "hi there\n", run.Output.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("never", run.Output);
        Assert.Equal("error: unknown palette 'bogus'; valid palettes: echo", run.Error.Trim());
        Assert.Contains("   1  help\n   2  echo say \"hi there\"\n   3  bogus cmd\n   4  help echo\n   5  history\n",
            run.Output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Ctl_should_print_the_hosts_palettes_for_a_one_shot_help()
    {
        await using var host = CtlHost.Start();
        var all = await CtlRun.RunAsync([host.Address, "help"]);
        Assert.Equal(0, all.ExitCode);
        Assert.Contains("echo - test commands", all.Output);
        Assert.DoesNotContain("akkagan>", all.Output);
        var one = await CtlRun.RunAsync([host.Address, "help", "echo"]);
        Assert.Equal(0, one.ExitCode);
        Assert.Contains("-n: how many lines (required)", one.Output);
        var unknown = await CtlRun.RunAsync([host.Address, "help", "nope"]);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("unknown palette 'nope'; valid palettes: echo", unknown.Error);
    }

    [Fact]
    public async Task Ctl_should_end_an_interactive_session_at_end_of_input()
    {
        await using var host = CtlHost.Start();
        var run = await CtlRun.RunAsync([host.Address], "echo say one\n");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("one", run.Output);
    }

    [Fact]
    public async Task Ctl_should_keep_the_session_going_after_usage_mistakes()
    {
        await using var host = CtlHost.Start();
        var run = await CtlRun.RunAsync([host.Address], "echo\nhelp nope\necho say \"open\necho say ok\nquit\n");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("ok", run.Output);
        Assert.Contains("'echo' needs a command", run.Error);
        Assert.Contains("unknown palette 'nope'", run.Error);
        Assert.Contains("unterminated double quote", run.Error);
    }

    [Fact]
    public async Task Ctl_should_exit_3_when_the_interactive_connection_is_lost()
    {
        var host = CtlHost.Start();
        var output = new SignalingWriter("waiting");
        // The gate command holds the request open; stopping the host then drops the connection mid-request.
        var running = CtlRun.RunAsync([host.Address], "echo gate\necho say after\n", output: output);
        await output.Seen.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken: TestContext.Current.CancellationToken);
        await host.DisposeAsync();
        var run = await running;
        Assert.Equal(3, run.ExitCode);
        Assert.Contains($"akkagan-ctl: error: control host {host.Address} closed the connection", run.Error);
        Assert.DoesNotContain("after", run.Output);
    }

    [Fact]
    public async Task Ctl_should_read_the_token_from_a_file_and_warn_when_it_is_given_as_a_flag()
    {
        await using var host = CtlHost.Start(token: "s3cret");
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "s3cret\n", TestContext.Current.CancellationToken);
            var fromFile = await CtlRun.RunAsync(["--token-file", file, host.Address, "echo", "say", "hi"]);
            Assert.Equal((0, "hi", ""), (fromFile.ExitCode, fromFile.Output.Trim(), fromFile.Error));
            var fromFlag = await CtlRun.RunAsync(["--token", "s3cret", host.Address, "echo", "say", "hi"]);
            Assert.Equal((0, "hi"), (fromFlag.ExitCode, fromFlag.Output.Trim()));
            Assert.Equal("akkagan-ctl: warning: --token shows the token to every local user (ps); use --token-file FILE or AKKAGAN_CONTROL_TOKEN",
                fromFlag.Error.Trim());
            var both = await CtlRun.RunAsync(["--token", "s3cret", "--token-file", file, host.Address, "echo", "say", "hi"]);
            Assert.Equal(2, both.ExitCode);
            Assert.Contains("--token and --token-file: give the token one way", both.Error);
            await File.WriteAllTextAsync(file, " \n", TestContext.Current.CancellationToken);
            var empty = await CtlRun.RunAsync(["--token-file", file, host.Address, "echo", "say", "hi"]);
            Assert.Equal(2, empty.ExitCode);
            Assert.Contains($"--token-file: {file} is empty", empty.Error);
        }
        finally
        {
            File.Delete(file);
        }
        var missing = await CtlRun.RunAsync(["--token-file", file, host.Address, "echo", "say", "hi"]);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains($"--token-file: cannot read {file}", missing.Error);
    }

    [Fact]
    public async Task Ctl_help_should_mark_the_read_only_commands()
    {
        await using var host = CtlHost.Start();
        var help = await CtlRun.RunAsync([host.Address, "help"]);
        Assert.Contains("  peek   a read-only command (read-only)", help.Output);
        Assert.DoesNotContain("echo the arguments (read-only)", help.Output);
    }

    [Fact]
    public async Task Ctl_should_connect_again_when_the_host_closed_an_idle_prompt_and_run_the_command_once()
    {
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = CtlHost.Start(configure: o => o with
        {
            IdleTimeout = TimeSpan.FromMilliseconds(200),
            Log = line => { if (line.Contains("idle for", StringComparison.Ordinal)) closed.TrySetResult(); },
        });
        // The second line is typed only after the host closed the idle connection.
        var input = new GatedReader([("echo say first", Task.CompletedTask), ("echo say second", closed.Task)]);
        var run = await CtlRun.RunAsync([host.Address], input);
        Assert.Equal(0, run.ExitCode);
        Assert.Equal(1, CountOf(run.Output, "second"));
        Assert.Contains("first", run.Output);
        Assert.Contains($"control host {host.Address} closed the connection: connection closed: idle for 0.2 s (akkagan.control.idle-timeout); " +
                        "connect again to go on; connecting again", run.Error);
    }

    private static string[] Lines(string text) => text.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
            count++;
        return count;
    }
}
