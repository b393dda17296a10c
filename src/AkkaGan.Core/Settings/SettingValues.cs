using System.Globalization;

namespace AkkaGan.Core.Settings;

/// <summary>
/// How a setting's text is read: kebab-case enum names (<c>non-saturating</c>), invariant-culture numbers. The command
/// line, the HOCON binder and live changes from the control plane all parse with these, so a value means the same
/// everywhere. Each parser throws <see cref="FormatException"/> with a message that names what was expected.
/// </summary>
public static class SettingValues
{
    /// <summary>kebab-case name of an enum member (NonSaturating -> non-saturating, Ring8 -> ring8).</summary>
    public static string Kebab<T>(T value) where T : struct, Enum
    {
        var name = value.ToString();
        var chars = new List<char>();
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0) chars.Add('-');
            chars.Add(char.ToLowerInvariant(name[i]));
        }
        return new string([.. chars]);
    }

    /// <summary>
    /// Parses an enum value by its kebab-case name, case-insensitively; throws <see cref="FormatException"/> naming the valid ones.
    /// </summary>
    public static T Enum<T>(string value) where T : struct, Enum
    {
        foreach (var candidate in System.Enum.GetValues<T>())
            if (string.Equals(Kebab(candidate), value, StringComparison.OrdinalIgnoreCase)) return candidate;
        throw new FormatException($"unknown value '{value}' (valid: {string.Join(", ", System.Enum.GetValues<T>().Select(Kebab))})");
    }

    /// <summary>Parses an integer in invariant culture; throws <see cref="FormatException"/> naming the bad text.</summary>
    public static int Int(string value)
        => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var result)
            ? result
            : throw new FormatException($"expected an integer, got '{value}'");

    /// <summary>Parses a 64-bit integer in invariant culture; throws <see cref="FormatException"/> naming the bad text.</summary>
    public static long Long(string value)
        => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var result)
            ? result
            : throw new FormatException($"expected an integer, got '{value}'");

    /// <summary>Parses a finite number in invariant culture; throws <see cref="FormatException"/> naming the bad text.</summary>
    public static double Double(string value)
        => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var result) && double.IsFinite(result)
            ? result
            : throw new FormatException($"expected a number, got '{value}'");

    /// <summary>on/off, true/false, yes/no; an empty value (a bare flag) is on.</summary>
    public static bool Switch(string value) => value.Trim().ToLowerInvariant() switch
    {
        "" or "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new FormatException($"expected on or off, got '{value}'"),
    };

    /// <summary>Parses a number, or null for an empty or blank value (the key's "keep the protocol value").</summary>
    public static double? OptionalDouble(string value) => string.IsNullOrWhiteSpace(value) ? null : Double(value);

    /// <summary>A number as settings print it: shortest round-trip form, invariant culture.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
