using Akka.Configuration;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Configuration;

/// <summary>
/// Binds the <c>akkagan</c> section of <c>cluster.hocon</c> (embedded in the executable), optionally layered under a
/// user's <c>--config FILE</c>, onto <see cref="TrainingSettings"/>. Unknown keys are errors that name the key and
/// the valid ones, so a typo never silently falls back to a default.
/// </summary>
public static class SettingsLoader
{
    /// <summary>
    /// A run's configuration and settings, in increasing precedence: the built-in cluster.hocon, its dataset-defaults
    /// for the dataset, <paramref name="configFile"/>, the checkpoint's settings when resuming
    /// (<paramref name="checkpointSettingsJson"/>; the configuration is still bound, so a bad key is found), then
    /// <paramref name="flags"/> in order. Validated once; every problem is a <see cref="SettingsException"/> naming its source.
    /// </summary>
    public static (Config Config, TrainingSettings Settings) Resolve(string? configFile, string? checkpointSettingsJson,
        IReadOnlyList<(SettingKeys.Key Key, string Value)> flags)
    {
        var config = LoadConfig(configFile, flags.LastOrDefault(f => f.Key.Path == "train.dataset").Value);
        var settings = Bind(config, new TrainingSettings());
        if (checkpointSettingsJson is not null) settings = SettingsJson.Deserialize(checkpointSettingsJson);
        foreach (var (key, value) in flags) settings = SettingKeys.Apply(key, settings, value, key.Flag);
        return (config, settings.Validate());
    }

    /// <summary>
    /// The merged configuration, in increasing precedence: the built-in cluster.hocon, its
    /// <c>akkagan.dataset-defaults.&lt;dataset&gt;</c> section applied to <c>akkagan.train</c>, and <paramref name="configFile"/>
    /// (if any). The dataset is <paramref name="datasetFlag"/> when given (the raw <c>--dataset</c> value), else the
    /// merged <c>akkagan.train.dataset</c>. Flags are applied later, over all of these.
    /// </summary>
    public static Config LoadConfig(string? configFile, string? datasetFlag = null)
    {
        var defaults = BuiltIn();
        var user = configFile is null ? null : ReadFile(configFile);
        var merged = user is null ? defaults : user.WithFallback(defaults);
        var overlay = DatasetDefaults(merged, datasetFlag);
        if (overlay is null) return merged;
        return user is null ? overlay.WithFallback(defaults) : user.WithFallback(overlay).WithFallback(defaults);
    }

    /// <summary>The built-in cluster.hocon alone: <c>akkagan.train</c> without any dataset's defaults.</summary>
    public static Config BuiltIn() => Parse(AkkaGanConfig.Text(), "cluster.hocon (built in)");

    /// <summary>
    /// Checks every <c>akkagan.dataset-defaults</c> section (a dataset name, keys of <c>akkagan.train</c>) and returns the
    /// chosen dataset's section as an <c>akkagan.train</c> config, or null when it has none. The image datasets need
    /// other defaults than the 2-D mixtures (a DCGAN's batch and learning rates, no unrolling), and putting them here
    /// rather than in code keeps one owner for every default.
    /// </summary>
    private static Config? DatasetDefaults(Config merged, string? datasetFlag)
    {
        const string root = "akkagan.dataset-defaults";
        if (!merged.HasPath(root)) return null;
        var datasetKey = SettingKeys.All.Single(k => k.Path == "train.dataset");
        var datasets = Enum.GetValues<DatasetKind>().Select(d => SettingValues.Kebab(d)).ToArray();
        var trainKeys = SettingKeys.All.Where(k => k.Path.StartsWith("train.", StringComparison.Ordinal)).ToDictionary(k => k.Name);
        Config? chosen = null;
        string? dataset;
        try
        {
            var text = datasetFlag ?? (merged.HasPath("akkagan.train.dataset") ? merged.GetString("akkagan.train.dataset") : null);
            dataset = text is null ? null : SettingValues.Kebab(SettingKeys.Apply(datasetKey, new TrainingSettings(), text, "dataset").Dataset);
        }
        catch (SettingsException)
        {
            dataset = null;   // reported, naming the flag or key, when the settings are bound
        }
        foreach (var (name, section) in merged.GetConfig(root).AsEnumerable())
        {
            if (!datasets.Contains(name))
                throw new SettingsException($"unknown key {root}.{name} (valid keys: {string.Join(", ", datasets)})");
            if (!section.IsObject())
                throw new SettingsException($"{root}.{name}: expected a section of akkagan.train keys, e.g. {{ batch = 64 }}");
            var lines = new List<string>();
            foreach (var (key, value) in merged.GetConfig($"{root}.{name}").AsEnumerable())
            {
                if (!trainKeys.ContainsKey(key) || value.IsObject() || value.IsArray())
                    throw new SettingsException($"unknown key {root}.{name}.{key} (valid keys: {string.Join(", ", trainKeys.Keys)})");
                lines.Add($"  {key} = {System.Text.Json.JsonSerializer.Serialize(value.IsEmpty ? "" : value.GetString() ?? "")}");
            }
            if (name == dataset && lines.Count > 0) chosen = Parse($"akkagan.train {{\n{string.Join("\n", lines)}\n}}", $"{root}.{name}");
        }
        return chosen;
    }

    private static Config ReadFile(string configFile)
    {
        if (!File.Exists(configFile)) throw new SettingsException($"--config {configFile}: file not found");
        string text;
        try
        {
            text = File.ReadAllText(configFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SettingsException($"--config {configFile}: cannot read ({e.Message})");
        }
        return Parse(text, configFile);
    }

    /// <summary>Binds <c>akkagan.*</c> of <paramref name="config"/> onto <paramref name="settings"/>.</summary>
    public static TrainingSettings Bind(Config config, TrainingSettings settings)
    {
        var known = SettingKeys.All.ToDictionary(k => k.Path);
        foreach (var section in new[] { "akkagan", "akkagan.train", "akkagan.population" })
        {
            if (!config.HasPath(section)) continue;
            foreach (var (name, value) in config.GetConfig(section).AsEnumerable())
            {
                var relative = section == "akkagan" ? name : section["akkagan.".Length..] + "." + name;
                if (section == "akkagan" && !known.ContainsKey(relative) && value.IsObject()) continue; // sub-sections (train, control, ...)
                if (!known.TryGetValue(relative, out var key))
                {
                    var prefix = section == "akkagan" ? "" : section["akkagan.".Length..] + ".";
                    var valid = SettingKeys.All.Where(k => k.Path.StartsWith(prefix, StringComparison.Ordinal)
                                                           && (section != "akkagan" || !k.Path.Contains('.', StringComparison.Ordinal)))
                        .Select(k => k.Name);
                    throw new SettingsException($"unknown key {section}.{name} (valid keys: {string.Join(", ", valid)})");
                }
                var text = value.IsEmpty ? "" : value.IsArray() ? MembersText(value, $"{section}.{name}") : value.GetString();
                settings = SettingKeys.Apply(key, settings, text ?? "", $"{section}.{name}");
            }
        }
        if (!config.HasPath("akkagan.health")) return settings;
        // akkagan.health nests its keys (remedies.cooldown, ...): every leaf is one key of the table.
        var health = SettingKeys.All.Where(k => k.Path.StartsWith("health.", StringComparison.Ordinal)).ToArray();
        foreach (var (path, value) in Leaves(config.GetConfig("akkagan.health"), "health."))
        {
            var key = health.FirstOrDefault(k => k.Path == path)
                      ?? throw new SettingsException($"unknown key akkagan.{path} (valid keys: {string.Join(", ", health.Select(k => k.Path["health.".Length..]))})");
            var text = value.IsArray() ? string.Join(",", value.GetArray().Select(v => v.GetString())) : value.IsEmpty ? "" : value.GetString();
            settings = SettingKeys.Apply(key, settings, text ?? "", "akkagan." + path);
        }
        return settings;
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

    /// <summary>A HOCON list of member objects (<c>[{ loss = hinge, lr-d = 5e-4 }, {}]</c>) in the flag's <c>k=v,..;..</c> form.</summary>
    private static string MembersText(Akka.Configuration.Hocon.HoconValue list, string source)
    {
        var groups = new List<string>();
        foreach (var item in list.GetArray())
        {
            if (!item.IsObject()) throw new SettingsException($"{source}: every entry must be an object like {{ loss = hinge, lr-d = 0.0005 }}");
            groups.Add(string.Join(",", item.GetObject().Items.Select(kv => $"{kv.Key}={kv.Value.GetString()}")));
        }
        return string.Join(";", groups);
    }

    /// <summary>The value a key has in <paramref name="config"/>, as text for help output ("" shown as "(protocol value)").</summary>
    public static string DefaultText(Config config, SettingKeys.Key key)
    {
        var path = "akkagan." + key.Path;
        if (!config.HasPath(path)) return "(unset)";
        if (config.GetValue(path).IsArray()) return config.GetValue(path).GetArray().Count == 0 ? "(none)" : MembersText(config.GetValue(path), path);
        var value = config.GetString(path);
        return !string.IsNullOrEmpty(value) ? value
            : key.Path.StartsWith("population.", StringComparison.Ordinal) ? "(none)"
            : key.Name == "classifier-dir" ? "(~/.cache/akkagan/classifier)"
            : key.Name == "data-cache-dir" ? "(~/.cache/akkagan/images)"
            : key.Name == "data-file" ? "(none)" : "(dataset's protocol value)";
    }

    private static Config Parse(string text, string source)
    {
        try
        {
            return ConfigurationFactory.ParseString(text);
        }
        catch (Exception e) when (e is not SettingsException)
        {
            throw new SettingsException($"{source}: not valid HOCON ({e.Message})");
        }
    }
}
