using AkkaGan.Control;

namespace AkkaGan.Ctl;

/// <summary>
/// The whole of <c>akkagan-ctl</c> behind plain readers and writers: parses the command line, connects to a control
/// host, and either runs one request (streaming its output) or an interactive prompt. Owns the exit codes
/// (<see cref="CtlExitCodes"/>) and the token lookup (<c>--token</c>, else <see cref="TokenVariable"/>).
/// </summary>
internal sealed class CtlApp
{
    /// <summary>Environment variable read for the token when <c>--token</c> is not given.</summary>
    public const string TokenVariable = "AKKAGAN_CONTROL_TOKEN";

    private readonly Func<string, string?> _environment;

    /// <param name="environment">Environment lookup; injected so tests do not touch process-global state.</param>
    public CtlApp(Func<string, string?>? environment = null) =>
        _environment = environment ?? Environment.GetEnvironmentVariable;

    public async Task<int> RunAsync(string[] args, TextReader input, TextWriter output, TextWriter error, CancellationToken ct)
    {
        CtlCommandLine commandLine;
        ControlEndpoint? endpoint = null;
        try
        {
            commandLine = CtlCommandLine.Parse(args);
            if (commandLine.Endpoint is not null)
                endpoint = ControlEndpoint.Parse(commandLine.Endpoint);
        }
        catch (FormatException ex)
        {
            await error.WriteLineAsync($"akkagan-ctl: error: {ex.Message}").ConfigureAwait(false);
            await error.WriteLineAsync("run 'akkagan-ctl --help' for usage").ConfigureAwait(false);
            return CtlExitCodes.Usage;
        }
        if (commandLine.ShowHelp)
        {
            await output.WriteLineAsync(CtlHelp.Usage).ConfigureAwait(false);
            return CtlExitCodes.Ok;
        }
        if (commandLine.ShowVersion)
        {
            await output.WriteLineAsync($"akkagan-ctl {CtlHelp.Version()}").ConfigureAwait(false);
            return CtlExitCodes.Ok;
        }
        string? token;
        try
        {
            token = commandLine.TokenFile is { } file ? ReadToken(file) : commandLine.Token ?? NonEmpty(_environment(TokenVariable));
        }
        catch (FormatException ex)
        {
            await error.WriteLineAsync($"akkagan-ctl: error: {ex.Message}").ConfigureAwait(false);
            return CtlExitCodes.Usage;
        }
        if (commandLine.Token is not null)
            await error.WriteLineAsync($"akkagan-ctl: warning: --token shows the token to every local user (ps); use --token-file FILE or {TokenVariable}")
                .ConfigureAwait(false);
        ControlClient? client = null;
        try
        {
            client = await ControlClient.ConnectAsync(endpoint!, ControlFraming.DefaultMaxFrameBytes, commandLine.Tls, ct).ConfigureAwait(false);
            if (commandLine.Palette == "help")
                return await HelpAsync(client, commandLine.Command, output, error).ConfigureAwait(false) ? CtlExitCodes.Ok : CtlExitCodes.Usage;
            return commandLine.Interactive
                ? await RunInteractiveAsync(() => client, c => client = c, endpoint!, commandLine.Tls, token, input, output, error, ct).ConfigureAwait(false)
                : await RunOneAsync(client, commandLine.Palette!, commandLine.Command!, commandLine.Args, token, output, error, ct)
                    .ConfigureAwait(false);
        }
        catch (ControlConnectionException ex)
        {
            await error.WriteLineAsync($"akkagan-ctl: error: {ex.Message}").ConfigureAwait(false);
            return CtlExitCodes.Unreachable;
        }
        catch (ArgumentException ex)
        {
            // Bad TLS settings (a fingerprint that is not hex, a certificate file that cannot be read), found before connecting.
            await error.WriteLineAsync($"akkagan-ctl: error: {ex.Message}").ConfigureAwait(false);
            return CtlExitCodes.Usage;
        }
        catch (ControlProtocolException ex)
        {
            await error.WriteLineAsync($"akkagan-ctl: error: {ex.Message}").ConfigureAwait(false);
            return CtlExitCodes.CommandFailed;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await error.WriteLineAsync("akkagan-ctl: interrupted").ConfigureAwait(false);
            return CtlExitCodes.Cancelled;
        }
        finally
        {
            if (client is not null)
                await client.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A token file's content without the surrounding whitespace (a trailing newline is not part of the token).</summary>
    private static string ReadToken(string file)
    {
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new FormatException($"--token-file: cannot read {file} ({ex.Message})", ex);
        }
        return text.Trim() is { Length: > 0 } token ? token : throw new FormatException($"--token-file: {file} is empty");
    }

    private static async Task<int> RunOneAsync(
        ControlClient client, string palette, string command, IReadOnlyList<string> args, string? token,
        TextWriter output, TextWriter error, CancellationToken ct)
    {
        var result = await client.ExecuteAsync(palette, command, args, token, output.WriteLine, ct).ConfigureAwait(false);
        if (result.Ok)
            return CtlExitCodes.Ok;
        await error.WriteLineAsync($"akkagan-ctl: error: {result.Error}").ConfigureAwait(false);
        return CtlExitCodes.CommandFailed;
    }

    /// <summary>
    /// The prompt loop. Errors print and the loop goes on. A connection the host closed before it read the request
    /// (idle past its limit) is opened again and the command sent once more; any other lost connection (or a protocol
    /// error, after which the host closes) ends it through the exceptions <see cref="RunAsync"/> maps to exit codes.
    /// </summary>
    /// <param name="current">The connection in use.</param>
    /// <param name="replace">Takes the new connection (the caller disposes the last one).</param>
    private static async Task<int> RunInteractiveAsync(
        Func<ControlClient> current, Action<ControlClient> replace, ControlEndpoint endpoint, ControlClientTls? tls, string? token,
        TextReader input, TextWriter output, TextWriter error, CancellationToken ct)
    {
        var client = current();
        var history = new List<string>();
        await output.WriteLineAsync(
                $"connected to {client.Node} at {endpoint} ({client.Hello.Protocol}); type 'help' for commands, 'exit' to leave")
            .ConfigureAwait(false);
        while (true)
        {
            await output.WriteAsync($"[{endpoint}] akkagan> ").ConfigureAwait(false);
            await output.FlushAsync(ct).ConfigureAwait(false);
            var line = await input.ReadLineAsync(ct).ConfigureAwait(false);
            if (line is null)
            {
                await output.WriteLineAsync().ConfigureAwait(false); // end the prompt line on EOF
                return CtlExitCodes.Ok;
            }
            if (string.IsNullOrWhiteSpace(line))
                continue;
            history.Add(line.Trim());
            IReadOnlyList<string> words;
            try
            {
                words = CtlLine.Split(line);
            }
            catch (FormatException ex)
            {
                await error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
                continue;
            }
            switch (words)
            {
                case ["exit" or "quit"]:
                    return CtlExitCodes.Ok;
                case ["history"]:
                    for (var i = 0; i < history.Count; i++)
                        await output.WriteLineAsync($"{i + 1,4}  {history[i]}").ConfigureAwait(false);
                    break;
                case ["help"]:
                    await HelpAsync(client, null, output, error).ConfigureAwait(false);
                    break;
                case ["help", var name]:
                    await HelpAsync(client, name, output, error).ConfigureAwait(false);
                    break;
                case [var single]:
                    await error.WriteLineAsync($"error: '{single}' needs a command: PALETTE COMMAND [ARGS...] (try 'help')")
                        .ConfigureAwait(false);
                    break;
                default:
                    ControlResult result;
                    try
                    {
                        result = await client.ExecuteAsync(words[0], words[1], [.. words.Skip(2)], token, output.WriteLine, ct).ConfigureAwait(false);
                    }
                    catch (ControlConnectionException ex) when (ex.RequestUnread)
                    {
                        await error.WriteLineAsync($"{ex.Message}; connecting again").ConfigureAwait(false);
                        await client.DisposeAsync().ConfigureAwait(false);
                        client = await ControlClient.ConnectAsync(endpoint, ControlFraming.DefaultMaxFrameBytes, tls, ct).ConfigureAwait(false);
                        replace(client);
                        result = await client.ExecuteAsync(words[0], words[1], [.. words.Skip(2)], token, output.WriteLine, ct).ConfigureAwait(false);
                    }
                    if (!result.Ok)
                        await error.WriteLineAsync($"error: {result.Error}").ConfigureAwait(false);
                    break;
            }
        }
    }

    /// <summary>The host's palettes, or one palette's commands, from its hello; false when there is no such palette.</summary>
    private static async Task<bool> HelpAsync(ControlClient client, string? name, TextWriter output, TextWriter error)
    {
        if (name is null)
        {
            CtlHelp.WritePalettes(output, client.Palettes);
            return true;
        }
        var palette = client.Palettes.FirstOrDefault(p => p.Name == name);
        if (palette is not null)
        {
            CtlHelp.WritePalette(output, palette);
            return true;
        }
        await error.WriteLineAsync($"error: unknown palette '{name}'; valid palettes: "
            + string.Join(", ", client.Palettes.Select(p => p.Name))).ConfigureAwait(false);
        return false;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
