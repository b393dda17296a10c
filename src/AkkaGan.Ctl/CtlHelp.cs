using System.Reflection;
using AkkaGan.Control;

namespace AkkaGan.Ctl;

/// <summary>The texts akkagan-ctl prints about itself and about the palettes a host published in its hello.</summary>
internal static class CtlHelp
{
    public const string Usage = """
        usage: akkagan-ctl [OPTIONS] HOST:PORT PALETTE COMMAND [ARGS...]   run one command
               akkagan-ctl [OPTIONS] HOST:PORT help [PALETTE]              the host's palettes and commands
               akkagan-ctl [OPTIONS] HOST:PORT                             interactive prompt
               akkagan-ctl --help | --version
        OPTIONS: --token-file FILE, --tls, --tls-thumbprint FP, --tls-certificate FILE

        The token (the operator's, or the read-only one, which runs only the commands help marks read-only) comes from
        --token-file FILE, else the environment variable AKKAGAN_CONTROL_TOKEN. --token TOKEN works too, but shows it
        to every local user (ps), so it warns.
        A host with akkagan.control.tls on speaks TLS: trust it by the SHA-256 fingerprint it prints at start
        (--tls-thumbprint FP), by a copy of its certificate (--tls-certificate node.crt, PEM or DER), or by the
        system's trust store and its host name (--tls).
        ARGS are passed to the host as written; the palette parses them.
        Exit codes: 0 ok, 1 the command failed or was refused, 2 bad usage, 3 the host is unreachable or went away.
        Interactive built-ins: help [PALETTE], history, exit, quit.
        """;

    /// <summary>The informational version without the source-revision suffix (<c>0.1.0+abc123</c> -> <c>0.1.0</c>).</summary>
    public static string Version()
    {
        var assembly = typeof(CtlHelp).Assembly;
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString() ?? "unknown";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }

    /// <summary>Every palette and its commands with descriptions, as <c>help</c> prints them.</summary>
    public static void WritePalettes(TextWriter output, IReadOnlyList<PaletteDescriptor> palettes)
    {
        if (palettes.Count == 0)
            output.WriteLine("this host publishes no palettes");
        foreach (var palette in palettes)
        {
            output.WriteLine($"{palette.Name} - {palette.Description}");
            var width = palette.Commands.Select(c => c.Name.Length).DefaultIfEmpty(0).Max();
            foreach (var command in palette.Commands)
                output.WriteLine($"  {command.Name.PadRight(width)}  {command.Description}{ReadOnlyMark(command)}");
        }
        output.WriteLine("built-ins: help [PALETTE], history, exit, quit");
    }

    /// <summary>One palette's commands with their arguments, as <c>help PALETTE</c> prints them.</summary>
    public static void WritePalette(TextWriter output, PaletteDescriptor palette)
    {
        output.WriteLine($"{palette.Name} - {palette.Description}");
        foreach (var command in palette.Commands)
        {
            var synopsis = string.Join(" ", command.Arguments.Select(Synopsis).Prepend(command.Name));
            output.WriteLine($"  {palette.Name} {synopsis}");
            output.WriteLine($"      {command.Description}{ReadOnlyMark(command)}");
            foreach (var argument in command.Arguments)
                output.WriteLine($"      {Name(argument)}: {argument.Description}{(argument.Required ? " (required)" : "")}");
        }
    }

    private static string ReadOnlyMark(CommandDescriptor command) => command.ReadOnly ? " (read-only)" : "";

    private static string Name(ArgumentDescriptor argument) => argument.Kind switch
    {
        ArgumentKind.Positional => argument.Name,
        _ => (argument.Name.Length == 1 ? "-" : "--") + argument.Name,
    };

    private static string Synopsis(ArgumentDescriptor argument)
    {
        var text = argument.Kind switch
        {
            ArgumentKind.Positional => $"<{argument.Name}>",
            ArgumentKind.Option => $"{Name(argument)} <{argument.Name}>",
            _ => Name(argument),
        };
        return argument.Required ? text : $"[{text}]";
    }
}
