using System.Text;

namespace AkkaGan.Ctl;

/// <summary>
/// Splits an interactive line into tokens the way a shell would for the simple cases: whitespace separates, double
/// quotes group (<c>say "hello world"</c>), and inside quotes <c>\"</c> and <c>\\</c> escape. An unterminated quote
/// is a <see cref="FormatException"/>.
/// </summary>
internal static class CtlLine
{
    public static IReadOnlyList<string> Split(string line)
    {
        var tokens = new List<string>();
        var current = new StringBuilder();
        var inToken = false;
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"')
                    quoted = false;
                else if (c == '\\' && i + 1 < line.Length && line[i + 1] is '"' or '\\')
                    current.Append(line[++i]);
                else
                    current.Append(c);
            }
            else if (c == '"')
            {
                quoted = true;
                inToken = true; // "" is an empty token, not nothing
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inToken)
                    tokens.Add(current.ToString());
                current.Clear();
                inToken = false;
            }
            else
            {
                current.Append(c);
                inToken = true;
            }
        }
        if (quoted)
            throw new FormatException("unterminated double quote");
        if (inToken)
            tokens.Add(current.ToString());
        return tokens;
    }
}
