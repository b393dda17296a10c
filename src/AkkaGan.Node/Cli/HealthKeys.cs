using Akka.Configuration;
using AkkaGan.Core.Health;
using AkkaGan.Core.Settings;

namespace AkkaGan.Node.Cli;

/// <summary>
/// The thresholds and remedies of <c>akkagan.health</c> (documented in cluster.hocon) onto <see cref="HealthSettings"/>.
/// They are HOCON only (no flags, except <c>--auto-remedy</c>, which <see cref="SettingKeys"/> owns); unknown keys are
/// errors that name the valid ones.
/// </summary>
public static class HealthKeys
{
    /// <summary>Each key's path under <c>akkagan.health</c> and how its text is parsed.</summary>
    public static readonly IReadOnlyDictionary<string, Func<HealthSettings, string, HealthSettings>> All =
        new Dictionary<string, Func<HealthSettings, string, HealthSettings>>
        {
            ["every"] = (h, v) => h with { Every = SettingValues.Int(v) },
            ["window"] = (h, v) => h with { Window = SettingValues.Int(v) },
            ["warmup"] = (h, v) => h with { Warmup = SettingValues.Int(v) },
            ["baseline-rounds"] = (h, v) => h with { BaselineRounds = SettingValues.Int(v) },
            ["vanishing-gradients.d-accuracy"] = (h, v) => h with { VanishingAccuracy = SettingValues.Double(v) },
            ["vanishing-gradients.feedback-ratio"] = (h, v) => h with { VanishingFeedbackRatio = SettingValues.Double(v) },
            ["mode-collapse.modes-fraction"] = (h, v) => h with { CollapseModesFraction = SettingValues.Double(v) },
            ["mode-collapse.class-entropy"] = (h, v) => h with { CollapseClassEntropy = SettingValues.Double(v) },
            ["mode-collapse.pairwise-ratio"] = (h, v) => h with { CollapsePairwiseRatio = SettingValues.Double(v) },
            ["mode-collapse.duplicate-share"] = (h, v) => h with { CollapseDuplicateShare = SettingValues.Double(v) },
            ["non-convergence.loss-std"] = (h, v) => h with { OscillationLossStd = SettingValues.Double(v) },
            ["non-convergence.drift"] = (h, v) => h with { OscillationDrift = SettingValues.Double(v) },
            ["remedies.cooldown"] = (h, v) => h with { Cooldown = SettingValues.Int(v) },
            ["remedies.max-per-remedy"] = (h, v) => h with { MaxPerRemedy = SettingValues.Int(v) },
            ["remedies.vanishing-gradients"] = (h, v) => h with { VanishingRemedies = Remedies(v) },
            ["remedies.mode-collapse"] = (h, v) => h with { CollapseRemedies = Remedies(v) },
            ["remedies.non-convergence"] = (h, v) => h with { NonConvergenceRemedies = Remedies(v) },
            ["remedies.noise-step"] = (h, v) => h with { NoiseStep = SettingValues.Double(v) },
            ["remedies.unroll-step"] = (h, v) => h with { UnrollStep = SettingValues.Int(v) },
            ["remedies.max-unroll"] = (h, v) => h with { MaxUnroll = SettingValues.Int(v) },
            ["remedies.r1-gamma"] = (h, v) => h with { R1Gamma = SettingValues.Double(v) },
            ["remedies.lr-factor"] = (h, v) => h with { LrFactor = SettingValues.Double(v) },
            ["remedies.max-discriminators"] = (h, v) => h with { MaxDiscriminators = SettingValues.Int(v) },
        };

    /// <summary>Binds <c>akkagan.health</c> of <paramref name="config"/> (if present) onto <paramref name="health"/>.</summary>
    public static HealthSettings Bind(Config config, HealthSettings health)
    {
        const string root = "akkagan.health";
        if (!config.HasPath(root)) return health;
        foreach (var (path, value) in Leaves(config.GetConfig(root), ""))
        {
            if (path == "auto-remedy") continue; // a SettingKeys key (it has a flag)
            if (!All.TryGetValue(path, out var apply))
                throw new SettingsException($"unknown key {root}.{path} (valid keys: auto-remedy, {string.Join(", ", All.Keys)})");
            var text = value.IsArray() ? string.Join(",", value.GetArray().Select(v => v.GetString())) : value.IsEmpty ? "" : value.GetString();
            try
            {
                health = apply(health, text ?? "");
            }
            catch (FormatException e)
            {
                throw new SettingsException($"{root}.{path}: {e.Message}");
            }
        }
        return health;
    }

    private static IEnumerable<(string Path, Akka.Configuration.Hocon.HoconValue Value)> Leaves(Config section, string prefix)
    {
        foreach (var (name, value) in section.AsEnumerable())
        {
            if (value.IsObject())
            {
                foreach (var leaf in Leaves(section.GetConfig(name), prefix + name + ".")) yield return leaf;
            }
            else yield return (prefix + name, value);
        }
    }

    /// <summary>A remedy list: kebab-case names separated by commas (HOCON: a list).</summary>
    private static IReadOnlyList<Remedy> Remedies(string text)
        => [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(SettingValues.Enum<Remedy>)];
}
