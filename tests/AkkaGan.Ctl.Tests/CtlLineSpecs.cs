namespace AkkaGan.Ctl.Tests;

public sealed class CtlLineSpecs
{
    [Theory]
    [InlineData("echo say hi", new[] { "echo", "say", "hi" })]
    [InlineData("  echo   say  ", new[] { "echo", "say" })]
    [InlineData("echo say \"hello world\" x", new[] { "echo", "say", "hello world", "x" })]
    [InlineData("echo say \"\"", new[] { "echo", "say", "" })]
    [InlineData("echo say \"a \\\"b\\\"\"", new[] { "echo", "say", "a \"b\"" })]
    [InlineData("--out=\"my file.png\"", new[] { "--out=my file.png" })]
    public void Line_should_split_on_whitespace_respecting_double_quotes(string line, string[] expected) =>
        Assert.Equal(expected, CtlLine.Split(line));

    [Fact]
    public void Line_should_reject_an_unterminated_quote() =>
        Assert.Throws<FormatException>(() => CtlLine.Split("echo say \"oops"));
}
