namespace AkkaGan.Control;

/// <summary>
/// A group of commands served by <see cref="ControlServer"/>. <see cref="ExecuteAsync(string, IReadOnlyList{string}, CancellationToken)"/>
/// yields output lines as they are produced; the host forwards each one at once. Throw <see cref="ControlCommandException"/>
/// for bad arguments. Only commands listed in <see cref="Descriptor"/> reach it.
/// </summary>
public interface IControlPalette
{
    /// <summary>The palette's name, description and commands with their arguments, as the hello and <c>help</c> list them.</summary>
    PaletteDescriptor Descriptor { get; }

    /// <summary>
    /// Runs <paramref name="command"/> (one of the descriptor's) with its raw <paramref name="args"/>, yielding output lines as
    /// they come; <paramref name="ct"/> is cancelled when the client cancels or disconnects, or the host stops.
    /// </summary>
    IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, CancellationToken ct);

    /// <summary>
    /// What the host calls: <paramref name="caller"/> says who asked (the client's address, and the nodes a request
    /// was forwarded through), for palettes that record the changes they make. By default it is not used.
    /// </summary>
    IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, string caller, CancellationToken ct)
        => ExecuteAsync(command, args, ct);
}
