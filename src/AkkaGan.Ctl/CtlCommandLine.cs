namespace AkkaGan.Ctl;

/// <summary>
/// The parsed process arguments, pbm style: <c>[--token T | --token-file F] [--tls | --tls-thumbprint FP | --tls-certificate FILE]
/// HOST:PORT [palette command args... | help [palette]]</c>. Flags are read only before the palette; everything from
/// the palette on is passed to the host raw.
/// </summary>
internal sealed record CtlCommandLine(
    bool ShowHelp, bool ShowVersion, string? Token, string? Endpoint, string? Palette, string? Command, IReadOnlyList<string> Args,
    string? TokenFile = null, AkkaGan.Control.ControlClientTls? Tls = null)
{
    public bool Interactive => Palette is null;

    /// <summary>Parses <paramref name="args"/>; a mistake is a <see cref="FormatException"/> saying what is wrong.</summary>
    public static CtlCommandLine Parse(IReadOnlyList<string> args)
    {
        bool help = false, version = false;
        string? token = null, tokenFile = null, endpoint = null, palette = null, command = null, thumbprint = null, certificate = null;
        var tls = false;
        var i = 0;
        for (; i < args.Count && palette is null; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "-h" or "--help" or "-?":
                    help = true;
                    break;
                case "--version":
                    version = true;
                    break;
                case "--token":
                    if (i + 1 >= args.Count)
                        throw new FormatException("--token needs a value");
                    token = args[++i];
                    break;
                case var _ when arg.StartsWith("--token=", StringComparison.Ordinal):
                    token = arg["--token=".Length..];
                    break;
                case "--token-file":
                    if (i + 1 >= args.Count)
                        throw new FormatException("--token-file needs a file");
                    tokenFile = args[++i];
                    break;
                case var _ when arg.StartsWith("--token-file=", StringComparison.Ordinal):
                    tokenFile = arg["--token-file=".Length..];
                    break;
                case "--tls":
                    tls = true;
                    break;
                case "--tls-thumbprint" or "--tls-certificate":
                    if (i + 1 >= args.Count)
                        throw new FormatException($"{arg} needs a value");
                    if (arg == "--tls-thumbprint") thumbprint = args[++i];
                    else certificate = args[++i];
                    break;
                case var _ when arg.StartsWith("--tls-thumbprint=", StringComparison.Ordinal):
                    thumbprint = arg["--tls-thumbprint=".Length..];
                    break;
                case var _ when arg.StartsWith("--tls-certificate=", StringComparison.Ordinal):
                    certificate = arg["--tls-certificate=".Length..];
                    break;
                case var _ when arg.StartsWith('-') && arg.Length > 1:
                    throw new FormatException($"unknown option '{arg}'");
                case var _ when endpoint is null:
                    endpoint = arg;
                    break;
                default:
                    palette = arg;
                    break;
            }
        }
        // 'help' and 'help PALETTE' are answered from the host's hello, as at the prompt.
        if (palette is not null && !(palette == "help" && i >= args.Count))
        {
            if (i >= args.Count)
                throw new FormatException($"palette '{palette}' needs a command: akkagan-ctl HOST:PORT {palette} COMMAND [ARGS...]");
            command = args[i++];
        }
        if (token is { Length: 0 })
            throw new FormatException("--token is empty");
        if (tokenFile is { Length: 0 })
            throw new FormatException("--token-file is empty");
        if (token is not null && tokenFile is not null)
            throw new FormatException("--token and --token-file: give the token one way");
        if (thumbprint is { Length: 0 } || certificate is { Length: 0 })
            throw new FormatException($"{(thumbprint is { Length: 0 } ? "--tls-thumbprint" : "--tls-certificate")} is empty");
        if (thumbprint is not null && certificate is not null)
            throw new FormatException("--tls-thumbprint and --tls-certificate: trust the host one way");
        var trust = tls || thumbprint is not null || certificate is not null ? new AkkaGan.Control.ControlClientTls(thumbprint, certificate) : null;
        var rest = args.Skip(i).ToList();
        if (!help && !version && endpoint is null)
            throw new FormatException("missing HOST:PORT");
        return new CtlCommandLine(help, version, token, endpoint, palette, command, rest, tokenFile, trust);
    }
}
