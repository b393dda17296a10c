namespace AkkaGan.Control;

/// <summary>
/// A group of commands served by <see cref="ControlServer"/>. <see cref="ExecuteAsync"/> yields output lines as they
/// are produced; the host forwards each one at once. Throw <see cref="ControlCommandException"/> for bad arguments.
/// Only commands listed in <see cref="Descriptor"/> reach <see cref="ExecuteAsync"/>.
/// </summary>
public interface IControlPalette
{
    PaletteDescriptor Descriptor { get; }

    IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, CancellationToken ct);
}
