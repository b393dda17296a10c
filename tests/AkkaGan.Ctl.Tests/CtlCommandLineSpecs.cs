namespace AkkaGan.Ctl.Tests;

public sealed class CtlCommandLineSpecs
{
    [Fact]
    public void CommandLine_should_pass_everything_after_the_palette_raw()
    {
        var parsed = CtlCommandLine.Parse(["--token", "t", "h:1", "train", "sample", "-n", "5", "--token", "x"]);
        Assert.Equal(("t", "h:1", "train", "sample"), (parsed.Token, parsed.Endpoint, parsed.Palette, parsed.Command));
        Assert.Equal(["-n", "5", "--token", "x"], parsed.Args);
        Assert.False(parsed.Interactive);
    }

    [Fact]
    public void CommandLine_should_accept_the_token_between_endpoint_and_palette()
    {
        var parsed = CtlCommandLine.Parse(["h:1", "--token=abc", "echo", "say"]);
        Assert.Equal("abc", parsed.Token);
        Assert.Equal("echo", parsed.Palette);
    }

    [Fact]
    public void CommandLine_should_be_interactive_without_a_palette() =>
        Assert.True(CtlCommandLine.Parse(["h:1"]).Interactive);

    [Theory]
    [InlineData(new string[0], "missing HOST:PORT")]
    [InlineData(new[] { "h:1", "echo" }, "palette 'echo' needs a command")]
    [InlineData(new[] { "--token" }, "--token needs a value")]
    [InlineData(new[] { "--bogus", "h:1" }, "unknown option '--bogus'")]
    [InlineData(new[] { "h:1", "--tls-thumbprint" }, "--tls-thumbprint needs a value")]
    [InlineData(new[] { "--tls-certificate=", "h:1" }, "--tls-certificate is empty")]
    [InlineData(new[] { "--tls-thumbprint", "AB", "--tls-certificate", "c.crt", "h:1" }, "trust the host one way")]
    public void CommandLine_should_reject_bad_usage(string[] args, string message) =>
        Assert.Contains(message, Assert.Throws<FormatException>(() => CtlCommandLine.Parse(args)).Message);

    [Fact]
    public void CommandLine_should_take_the_tls_trust_before_the_palette()
    {
        Assert.Null(CtlCommandLine.Parse(["h:1", "gan", "status", "--tls"]).Tls);   // after the palette: the host's argument
        Assert.Equal(new AkkaGan.Control.ControlClientTls(), CtlCommandLine.Parse(["--tls", "h:1", "gan", "status"]).Tls);
        Assert.Equal("ab:cd", CtlCommandLine.Parse(["h:1", "--tls-thumbprint=ab:cd", "gan", "status"]).Tls!.Thumbprint);
        Assert.Equal("node.crt", CtlCommandLine.Parse(["--tls-certificate", "node.crt", "h:1"]).Tls!.CertificateFile);
    }
}
