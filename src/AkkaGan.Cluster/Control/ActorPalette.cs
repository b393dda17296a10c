using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Akka.Actor;
using AkkaGan.Control;

namespace AkkaGan.Cluster.Control;

/// <summary>
/// The <c>actor</c> palette of a node's control host: <c>hierarchy</c>, the actor tree under <c>/user</c> (and
/// <c>/system</c> with <c>--system</c>) as this node's actor system has it now, found by asking each level for its
/// children (<see cref="ActorChildren"/>), so it sees what a remote operator would see without any actor's help.
/// </summary>
public sealed class ActorPalette : IControlPalette
{
    private readonly ActorSystem _system;
    private readonly TimeSpan _window;

    /// <summary>The <c>actor</c> palette of <paramref name="system"/>'s actors.</summary>
    public ActorPalette(ActorSystem system) : this(system, ActorChildren.DefaultWindow) { }

    /// <param name="window">How long each level's answers are collected (tests shorten it).</param>
    internal ActorPalette(ActorSystem system, TimeSpan window)
    {
        _system = system;
        _window = window;
    }

    /// <inheritdoc/>
    public PaletteDescriptor Descriptor { get; } = new("actor", "The actors of this node",
    [
        new("hierarchy", "The actor tree under /user (and /system with --system), one line per actor, indented by depth", HierarchyArguments, ReadOnly: true),
    ]);

    private static readonly ArgumentDescriptor[] HierarchyArguments =
    [
        new("d", "how many levels below /user to show (1..10, default 3)", Required: false, ArgumentKind.Option),
        new("system", "show the tree under /system too", Required: false, ArgumentKind.Flag),
    ];

    /// <inheritdoc/>
    public async IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, [EnumeratorCancellation] CancellationToken ct)
    {
        var parsed = ControlArgs.Parse(args, HierarchyArguments);
        var depth = parsed.GetInt("d", 3);
        if (depth is < 1 or > 10) throw new ControlCommandException($"actor hierarchy: -d {depth}: the depth must be between 1 and 10");
        var roots = parsed.Has("system") ? new[] { "/user", "/system" } : ["/user"];
        var count = 0;
        foreach (var root in roots)
        {
            yield return root;
            var lines = new List<string>();
            count += await WalkAsync(root, 1, depth, lines, ct).ConfigureAwait(false);
            foreach (var line in lines) yield return line;
        }
        yield return $"{count} actor(s) under {string.Join(" and ", roots)} (depth {depth})";
    }

    /// <summary>
    /// Adds the children of <paramref name="parent"/> (sorted by name) and, below each, theirs down to
    /// <paramref name="maxDepth"/>; the subtrees are asked at the same time, so each level costs one window.
    /// </summary>
    private async Task<int> WalkAsync(string parent, int depth, int maxDepth, List<string> lines, CancellationToken ct)
    {
        var children = await ActorChildren.OfAsync(_system, parent, _window, ct).ConfigureAwait(false);
        var below = await Task.WhenAll(children.Select(async child =>
        {
            var sub = new List<string>();
            var count = depth < maxDepth ? await WalkAsync(child.Path.ToStringWithoutAddress(), depth + 1, maxDepth, sub, ct).ConfigureAwait(false) : 0;
            return (Count: count, Lines: sub);
        })).ConfigureAwait(false);
        for (var i = 0; i < children.Count; i++)
        {
            lines.Add(new string(' ', 2 * depth) + children[i].Path.Name);
            lines.AddRange(below[i].Lines);
        }
        return children.Count + below.Sum(b => b.Count);
    }
}

/// <summary>
/// The children of an actor, found by sending <see cref="Identify"/> through <c>ActorSelection(path/*)</c> and collecting
/// the answers for a fixed window: there is no "last answer" to wait for, and a slow actor only goes missing from the
/// listing. Answers go to a temporary actor (under <c>/temp</c>, like an Ask's), so asking never adds to the tree it lists.
/// </summary>
internal static class ActorChildren
{
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromMilliseconds(500);

    /// <summary>The live children of the actor at <paramref name="parent"/> (<c>/user/x</c>), sorted by name (ordinal).</summary>
    public static async Task<IReadOnlyList<IActorRef>> OfAsync(ActorSystem system, string parent, TimeSpan window, CancellationToken ct)
    {
        var provider = ((ExtendedActorSystem)system).Provider;
        var collector = new IdentityCollector(provider, provider.TempPath());
        provider.RegisterTempActor(collector, collector.Path);
        try
        {
            system.ActorSelection(parent.TrimEnd('/') + "/*").Tell(new Identify(null), collector);
            await Task.Delay(window, ct).ConfigureAwait(false);
            return collector.Found.OrderBy(c => c.Path.Name, StringComparer.Ordinal).ToList();
        }
        finally
        {
            provider.UnregisterTempActor(collector.Path);
        }
    }

    /// <summary>Keeps every <see cref="ActorIdentity"/> that names an actor; answers may arrive on any thread.</summary>
    private sealed class IdentityCollector(IActorRefProvider provider, ActorPath path) : MinimalActorRef
    {
        private readonly ConcurrentDictionary<IActorRef, bool> _found = new();

        public override ActorPath Path { get; } = path;

        public override IActorRefProvider Provider { get; } = provider;

        public ICollection<IActorRef> Found => _found.Keys;

        protected override void TellInternal(object message, IActorRef sender)
        {
            if (message is ActorIdentity { Subject: { } subject }) _found.TryAdd(subject, true);
        }
    }
}
