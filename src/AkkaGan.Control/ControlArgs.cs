using System.Globalization;

namespace AkkaGan.Control;

/// <summary>
/// The raw tokens of a request parsed against a command's <see cref="ArgumentDescriptor"/>s: positionals in order,
/// options as <c>-n 1000</c>, <c>--out x.png</c> or <c>--out=x.png</c>, flags alone. One-letter names take one dash,
/// longer names two. Every mistake is a <see cref="ControlCommandException"/> naming the argument and the valid ones.
/// </summary>
public sealed class ControlArgs
{
    private readonly Dictionary<string, string> _values;
    private readonly HashSet<string> _flags;

    private ControlArgs(Dictionary<string, string> values, HashSet<string> flags)
    {
        _values = values;
        _flags = flags;
    }

    /// <summary>
    /// Parses <paramref name="args"/> (the tokens after the command) against <paramref name="arguments"/>, the command's
    /// declared arguments; throws <see cref="ControlCommandException"/> for an unknown option, a flag given a value, an
    /// option without one, a surplus positional or a missing required argument.
    /// </summary>
    public static ControlArgs Parse(IReadOnlyList<string> args, IReadOnlyList<ArgumentDescriptor> arguments)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        var positionals = new Queue<ArgumentDescriptor>(arguments.Where(a => a.Kind == ArgumentKind.Positional));
        for (var i = 0; i < args.Count; i++)
        {
            var token = args[i];
            if (token.Length < 2 || token[0] != '-' || double.TryParse(token, CultureInfo.InvariantCulture, out _))
            {
                if (!positionals.TryDequeue(out var positional))
                    throw new ControlCommandException($"unexpected argument '{token}'");
                values[positional.Name] = token;
                continue;
            }
            var (written, inline) = token.IndexOf('=', StringComparison.Ordinal) is var eq and > 0
                ? (token[..eq], token[(eq + 1)..])
                : (token, null);
            var named = arguments.FirstOrDefault(a => a.Kind != ArgumentKind.Positional && Display(a) == written)
                ?? throw new ControlCommandException($"unknown option '{written}'; valid options: {ValidOptions(arguments)}");
            if (named.Kind == ArgumentKind.Flag)
            {
                if (inline is not null)
                    throw new ControlCommandException($"flag '{written}' takes no value");
                flags.Add(named.Name);
            }
            else if (inline is not null)
                values[named.Name] = inline;
            else if (i + 1 < args.Count)
                values[named.Name] = args[++i];
            else
                throw new ControlCommandException($"option '{written}' needs a value");
        }
        var missing = arguments.Where(a => a.Required && a.Kind != ArgumentKind.Flag && !values.ContainsKey(a.Name)).ToList();
        if (missing.Count > 0)
            throw new ControlCommandException($"missing required argument {string.Join(", ", missing.Select(Display))}");
        return new ControlArgs(values, flags);
    }

    /// <summary>The value of an option or positional, or null when not given.</summary>
    public string? Get(string name) => _values.GetValueOrDefault(name);

    /// <summary>Whether the flag named <paramref name="flag"/> (its descriptor's name, without dashes) was given.</summary>
    public bool Has(string flag) => _flags.Contains(flag);

    /// <summary>An integer argument, or <paramref name="fallback"/> when absent; a non-integer is an error.</summary>
    public int GetInt(string name, int fallback) => Get(name) switch
    {
        null => fallback,
        var text when int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) => value,
        var text => throw new ControlCommandException($"argument '{name}' must be an integer, got '{text}'"),
    };

    private static string Display(ArgumentDescriptor argument) => argument.Kind switch
    {
        ArgumentKind.Positional => argument.Name,
        _ => argument.Name.Length == 1 ? "-" + argument.Name : "--" + argument.Name,
    };

    private static string ValidOptions(IReadOnlyList<ArgumentDescriptor> arguments)
    {
        var options = arguments.Where(a => a.Kind != ArgumentKind.Positional).Select(Display).ToList();
        return options.Count == 0 ? "none" : string.Join(", ", options);
    }
}
