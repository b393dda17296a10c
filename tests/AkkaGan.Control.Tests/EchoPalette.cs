using System.Runtime.CompilerServices;

namespace AkkaGan.Control.Tests;

/// <summary>
/// Test palette "echo": <c>say</c> joins its args, <c>count -n N</c> streams 1..N, <c>gate</c> yields one line and
/// waits for the test to open <see cref="Gate"/> (proving lines leave before done), <c>fail</c> throws, <c>peek</c> is
/// the one read-only command, and <c>flood</c> streams 64 KiB lines until it is cancelled (then completes <see cref="Flooded"/>).
/// </summary>
internal sealed class EchoPalette : IControlPalette
{
    private static readonly ArgumentDescriptor[] CountArguments =
        [new("n", "how many lines", Required: true, ArgumentKind.Option)];

    public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Flooded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PaletteDescriptor Descriptor { get; } = new("echo", "test commands",
    [
        new("say", "echo the arguments", [new("words", "what to say", Required: false, ArgumentKind.Positional)]),
        new("count", "stream 1..n", CountArguments),
        new("gate", "wait for the test", []),
        new("fail", "refuse", []),
        new("peek", "a read-only command", [], ReadOnly: true),
        new("flood", "64 KiB lines until cancelled", []),
    ]);

    public async IAsyncEnumerable<string> ExecuteAsync(
        string command, IReadOnlyList<string> args, [EnumeratorCancellation] CancellationToken ct)
    {
        switch (command)
        {
            case "say":
                yield return string.Join(" ", args);
                break;
            case "count":
                var n = ControlArgs.Parse(args, CountArguments).GetInt("n", 0);
                for (var i = 1; i <= n; i++)
                    yield return i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                break;
            case "gate":
                yield return "waiting";
                await Gate.Task.WaitAsync(ct);
                yield return "opened";
                break;
            case "peek":
                yield return "peeked";
                break;
            case "flood":
                var line = new string('x', 64 * 1024);
                using (ct.Register(() => Flooded.TrySetResult()))
                    while (!ct.IsCancellationRequested)
                    {
                        await Task.Yield();
                        yield return line;
                    }
                break;
            default:
                throw new ControlCommandException("fail always fails");
        }
    }
}
