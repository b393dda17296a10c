namespace AkkaGan.Control.Tests;

public sealed class ControlArgsSpecs
{
    private static readonly ArgumentDescriptor[] Sample =
    [
        new("n", "samples", Required: true, ArgumentKind.Option),
        new("out", "file", Required: false, ArgumentKind.Option),
        new("verbose", "more output", Required: false, ArgumentKind.Flag),
        new("run", "run id", Required: false, ArgumentKind.Positional),
    ];

    [Fact]
    public void Args_should_parse_options_flags_and_positionals()
    {
        var args = ControlArgs.Parse(["r-1", "-n", "1000", "--out=x.png", "--verbose"], Sample);
        Assert.Equal(1000, args.GetInt("n", 0));
        Assert.Equal("x.png", args.Get("out"));
        Assert.Equal("r-1", args.Get("run"));
        Assert.True(args.Has("verbose"));
        Assert.Equal(-5, ControlArgs.Parse(["-n", "-5"], Sample).GetInt("n", 0));
    }

    [Theory]
    [InlineData(new[] { "-n", "1", "--bogus" }, "unknown option '--bogus'; valid options: -n, --out, --verbose")]
    [InlineData(new[] { "--out", "x" }, "missing required argument -n")]
    [InlineData(new[] { "-n" }, "option '-n' needs a value")]
    [InlineData(new[] { "-n", "1", "a", "b" }, "unexpected argument 'b'")]
    [InlineData(new[] { "-n", "1", "--verbose=yes" }, "flag '--verbose' takes no value")]
    public void Args_should_reject_mistakes_naming_the_argument(string[] tokens, string problem) =>
        Assert.Equal(problem, Assert.Throws<ControlCommandException>(() => ControlArgs.Parse(tokens, Sample)).Message);

    [Fact]
    public void Args_should_reject_a_non_integer_where_an_integer_is_read() =>
        Assert.Contains("'n' must be an integer, got 'many'",
            Assert.Throws<ControlCommandException>(() => ControlArgs.Parse(["-n", "many"], Sample).GetInt("n", 0)).Message);
}
