using System.Text;
using AkkaGan.Core.Settings;

namespace AkkaGan.Cluster.Configuration;

/// <summary>
/// The configuration reference of the documentation (<c>docs/configuration.md</c>), rendered from the key table
/// (<see cref="SettingKeys.All"/>) and the built-in <c>cluster.hocon</c>, so the page cannot drift from the code: a spec
/// compares the page with <see cref="Markdown"/> and <c>./build.sh docs</c> rewrites it.
/// </summary>
public static class ConfigurationReference
{
    /// <summary>The line that opens the generated part of the page; everything up to <see cref="End"/> is replaced.</summary>
    public const string Begin = "<!-- generated from SettingKeys and cluster.hocon: ./build.sh docs rewrites it; do not edit by hand -->";

    /// <summary>The line that closes the generated part of the page.</summary>
    public const string End = "<!-- end of generated part -->";

    /// <summary>
    /// Every key as a Markdown table (flag, HOCON path, built-in default, whether it may change live or per member,
    /// meaning), then the per-dataset defaults that differ from <c>akkagan.train</c>'s.
    /// </summary>
    public static string Markdown()
    {
        // akkagan.train's own values: the default dataset's defaults (ring8's) are a column of the second table.
        var defaults = SettingsLoader.Bind(SettingsLoader.BuiltIn(), new TrainingSettings());
        var text = new StringBuilder();
        text.AppendLine("| flag | HOCON key | default | changes | meaning |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var key in SettingKeys.All)
        {
            var flag = key.HasFlag ? $"`{key.Flag} {key.HelpName}`" : "(HOCON only)";
            var changes = string.Join(", ", new[] { key.Live is null ? null : "live", key.PerMember ? "per member" : null }.OfType<string>());
            text.AppendLine($"| {Cell(flag)} | `akkagan.{key.Path}` | {Cell(Value(key.Get(defaults)))} | {changes} | {Cell(key.Description)} |");
        }

        var datasets = Enum.GetValues<DatasetKind>()
            .Select(d => (Name: SettingValues.Kebab(d), Settings: SettingsLoader.Bind(SettingsLoader.LoadConfig(null, SettingValues.Kebab(d)), new TrainingSettings())))
            .ToArray();
        var differing = datasets.Where(d => SettingKeys.All.Any(k => k.Path != "train.dataset" && k.Get(d.Settings) != k.Get(defaults))).ToArray();
        if (differing.Length == 0) return text.ToString();
        var keys = SettingKeys.All.Where(k => k.Path != "train.dataset" && differing.Any(d => k.Get(d.Settings) != k.Get(defaults))).ToArray();
        text.AppendLine();
        text.AppendLine("Per-dataset defaults (`akkagan.dataset-defaults.<dataset>`), where they differ from the table above:");
        text.AppendLine();
        text.AppendLine($"| key | {string.Join(" | ", differing.Select(d => $"`{d.Name}`"))} |");
        text.AppendLine($"|---|{string.Concat(differing.Select(_ => "---|"))}");
        foreach (var key in keys)
            text.AppendLine($"| `{key.Name}` | {string.Join(" | ", differing.Select(d => Value(key.Get(d.Settings))))} |");
        return text.ToString();
    }

    /// <summary>
    /// <paramref name="page"/> with its generated part (between <see cref="Begin"/> and <see cref="End"/>) replaced by
    /// <see cref="Markdown"/>; throws when the page lacks the two marker lines.
    /// </summary>
    public static string Rewrite(string page)
    {
        var begin = page.IndexOf(Begin, StringComparison.Ordinal);
        var end = page.IndexOf(End, StringComparison.Ordinal);
        if (begin < 0 || end < begin)
            throw new InvalidOperationException($"the page lacks the generated part's markers ({Begin} ... {End})");
        return page[..(begin + Begin.Length)] + "\n\n" + Markdown() + "\n" + page[end..];
    }

    private static string Value(string value) => value.Length == 0 ? "(empty)" : $"`{value}`";

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);
}
