using System.Runtime.CompilerServices;
using AkkaGan.Control;

namespace AkkaGan.Ctl.Tests;

/// <summary>
/// Test palette "echo": <c>say</c> joins its args, <c>gate</c> yields one line and waits for the test to open
/// <see cref="Gate"/> (proving lines are printed before done), <c>fail</c> throws, <c>peek</c> is read-only.
/// </summary>
internal sealed class EchoPalette : IControlPalette
{
    public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PaletteDescriptor Descriptor { get; } = new("echo", "test commands",
    [
        new("say", "echo the arguments", [new("words", "what to say", Required: false, ArgumentKind.Positional)]),
        new("count", "stream 1..n", [new("n", "how many lines", Required: true, ArgumentKind.Option)]),
        new("gate", "wait for the test", []),
        new("fail", "refuse", []),
        new("peek", "a read-only command", [], ReadOnly: true),
    ]);

    public async IAsyncEnumerable<string> ExecuteAsync(
        string command, IReadOnlyList<string> args, [EnumeratorCancellation] CancellationToken ct)
    {
        switch (command)
        {
            case "peek":
                yield return "peeked";
                break;
            case "say":
                yield return string.Join("|", args);
                break;
            case "count":
                var n = ControlArgs.Parse(args, Descriptor.Commands[1].Arguments).GetInt("n", 0);
                for (var i = 1; i <= n; i++)
                    yield return i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                break;
            case "gate":
                yield return "waiting";
                await Gate.Task.WaitAsync(ct);
                yield return "opened";
                break;
            default:
                throw new ControlCommandException("fail always fails");
        }
    }
}
