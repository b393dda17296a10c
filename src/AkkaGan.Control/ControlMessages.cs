namespace AkkaGan.Control;

/// <summary>
/// Base of every frame body. The JSON <c>"type"</c> discriminator is written and read by <see cref="ControlFraming"/>,
/// not stored on the record, so a message cannot disagree with its own type.
/// </summary>
public abstract record ControlMessage;

/// <summary>
/// The four wire messages of <c>akkagan-control/1</c> (see PROTOCOL.md): the host greets with <see cref="Hello"/>, the
/// client sends <see cref="Request"/>, the host streams <see cref="Output"/> lines and ends each request with one
/// <see cref="Done"/>.
/// </summary>
public static class ControlMessages
{
    /// <summary>Protocol name and version carried in every hello.</summary>
    public const string Protocol = "akkagan-control/1";

    /// <summary>First frame on every connection, host to client: who answers and which commands it offers.</summary>
    public sealed record Hello(string Protocol, string Node, IReadOnlyList<PaletteDescriptor> Palettes) : ControlMessage;

    /// <summary>Client to host: run <c>palette command args</c>. Args are the raw tokens after the command.</summary>
    public sealed record Request(int Id, string Palette, string Command, IReadOnlyList<string> Args, string? Token = null)
        : ControlMessage;

    /// <summary>Host to client: one line produced by request <see cref="Id"/>, sent as soon as it is produced.</summary>
    public sealed record Output(int Id, string Text) : ControlMessage;

    /// <summary>
    /// Host to client: request <see cref="Id"/> finished; always the last frame of a request. Id 0 reports a protocol
    /// error after which the host closes the connection.
    /// </summary>
    public sealed record Done(int Id, bool Ok, string? Error = null) : ControlMessage;
}

/// <summary>How an argument is written on the command line.</summary>
public enum ArgumentKind
{
    /// <summary>A bare value, matched by position.</summary>
    Positional,

    /// <summary><c>-n 1000</c> or <c>--out x.png</c>: a name followed by a value.</summary>
    Option,

    /// <summary><c>--verbose</c>: a name alone.</summary>
    Flag,
}

/// <summary>One argument of a command, as published in the hello.</summary>
public sealed record ArgumentDescriptor(string Name, string Description, bool Required, ArgumentKind Kind);

/// <summary>One command of a palette, as published in the hello.</summary>
/// <param name="ReadOnly">
/// True for a command that only shows (status, watch, health, cluster show): the read-only token may run it. A command
/// that changes the run, the cluster or a file is not.
/// </param>
public sealed record CommandDescriptor(string Name, string Description, IReadOnlyList<ArgumentDescriptor> Arguments, bool ReadOnly = false);

/// <summary>A named group of commands (e.g. <c>cluster</c>, <c>train</c>), as published in the hello.</summary>
public sealed record PaletteDescriptor(string Name, string Description, IReadOnlyList<CommandDescriptor> Commands)
{
    /// <summary>Why <paramref name="command"/> is refused (it is not one of this palette's, which are listed); null when it is.</summary>
    public string? RefuseCommand(string command)
        => Commands.Any(c => c.Name == command)
            ? null
            : $"unknown command '{command}' in palette '{Name}'; valid commands: {string.Join(", ", Commands.Select(c => c.Name))}";
}
