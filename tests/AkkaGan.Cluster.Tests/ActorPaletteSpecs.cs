using Akka.Actor;
using AkkaGan.Cluster.Control;
using AkkaGan.Control;

namespace AkkaGan.Cluster.Tests;

/// <summary>The control plane's <c>actor</c> palette on a local actor system with a small tree of its own.</summary>
public sealed class ActorPaletteSpecs : Akka.TestKit.Xunit.TestKit
{
    private async Task<List<string>> Run(params string[] args)
    {
        var lines = new List<string>();
        await foreach (var line in new ActorPalette(Sys, TimeSpan.FromMilliseconds(200)).ExecuteAsync("hierarchy", args, CancellationToken.None)) lines.Add(line);
        return lines;
    }

    /// <summary>Creates <c>/user/trainer</c> with a child <c>worker</c> and waits until the child exists.</summary>
    private void CreateTree()
    {
        Sys.ActorOf(Props.Create(() => new Parent("worker")), "trainer");
        Sys.ActorOf(Props.Create(() => new Parent("other")), "assistant");
        AwaitAssert(() => Assert.NotNull(Sys.ActorSelection("/user/trainer/worker").ResolveOne(TimeSpan.FromSeconds(1)).Result), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Hierarchy_should_show_the_user_tree_indented_and_sorted()
    {
        CreateTree();
        var lines = await Run();
        Assert.Equal("/user", lines[0]);
        var trainer = lines.IndexOf("  trainer");
        Assert.True(trainer > 0, string.Join('\n', lines));
        Assert.Equal("    worker", lines[trainer + 1]);
        Assert.True(lines.IndexOf("  assistant") is var assistant && assistant > 0 && assistant < trainer, "children are sorted by name");
        Assert.Equal($"{lines.Count - 2} actor(s) under /user (depth 3)", lines[^1]);
    }

    [Fact]
    public async Task Hierarchy_with_depth_1_should_hide_the_grandchildren()
    {
        CreateTree();
        var lines = await Run("-d", "1");
        Assert.Contains("  trainer", lines);
        Assert.DoesNotContain("    worker", lines);
        Assert.Equal($"{lines.Count - 2} actor(s) under /user (depth 1)", lines[^1]);
    }

    [Fact]
    public async Task Hierarchy_with_system_should_show_the_system_tree_too()
    {
        var lines = await Run("-d", "1", "--system");
        Assert.Contains("/system", lines);
        Assert.Contains("  deadLetterListener", lines[lines.IndexOf("/system")..]);
        Assert.EndsWith("under /user and /system (depth 1)", lines[^1]);
    }

    [Fact]
    public async Task Bad_depths_should_be_refused_naming_the_range()
    {
        Assert.Contains("between 1 and 10", (await Assert.ThrowsAsync<ControlCommandException>(() => Run("-d", "0"))).Message);
        Assert.Contains("between 1 and 10", (await Assert.ThrowsAsync<ControlCommandException>(() => Run("-d", "11"))).Message);
        Assert.Contains("must be an integer", (await Assert.ThrowsAsync<ControlCommandException>(() => Run("-d", "deep"))).Message);
        Assert.Contains("unknown option '--depth'", (await Assert.ThrowsAsync<ControlCommandException>(() => Run("--depth", "2"))).Message);
    }

    /// <summary>An actor with one child of the given name.</summary>
    private sealed class Parent : ReceiveActor
    {
        public Parent(string child) => Context.ActorOf(Props.Empty, child);
    }
}
