using AkkaGan.Core.Training;

namespace AkkaGan.Core.Settings;

/// <summary>What a live change touches, so engines tell only the entities that read the key.</summary>
[Flags]
public enum LiveScope
{
    /// <summary>The coordinator's schedule (n-critic, intervals, member selection).</summary>
    Schedule = 1,
    /// <summary>The generator (lr-g, aggregation).</summary>
    Generator = 2,
    /// <summary>The discriminators (lr-d, loss, regularizers, unroll).</summary>
    Discriminators = 4,
}

/// <summary>
/// The hyper-parameters that can change while a training runs (<c>akkagan-ctl ... gan set KEY VALUE</c>), and how a
/// change is applied to <see cref="TrainingSettings"/>: parsed like the flag of the same name, then the whole
/// settings validated again, so a change that would make an invalid combination (e.g. aggregate=subset with a
/// subset-size above the population) is refused and nothing changes. Learning rates are base rates: the run's
/// lr-decay schedule still applies on top. Keys marked per-member take <c>--member d-N</c>; without it they apply to
/// the whole population (and replace that member override of every member).
/// </summary>
public static class LiveSettings
{
    /// <summary>The live keys: the rows of <see cref="SettingKeys.All"/> with a <see cref="SettingKeys.Key.Live"/> scope (named by their flag's name).</summary>
    public static IReadOnlyList<SettingKeys.Key> Keys { get; } = [.. SettingKeys.All.Where(k => k.Live is not null)];

    /// <summary>The live keys' names, comma-separated, as errors list them.</summary>
    public static string KeyList => string.Join(", ", Keys.Select(k => k.Name));

    /// <summary>The key named <paramref name="name"/>; unknown names are refused with the list of valid ones.</summary>
    public static SettingKeys.Key Find(string name)
        => Keys.FirstOrDefault(k => k.Name == name)
           ?? throw new SettingsException($"'{name}' cannot be changed while training (live keys: {KeyList})");

    /// <summary>
    /// The settings with <paramref name="key"/> = <paramref name="value"/> (for one member, or for all), validated.
    /// Throws <see cref="SettingsException"/> naming the key and the problem; the input settings are unchanged.
    /// </summary>
    public static TrainingSettings Apply(TrainingSettings settings, string key, string value, int? member = null)
    {
        var live = Find(key);
        if (member is { } m)
        {
            if (!live.PerMember) throw new SettingsException($"{key} applies to the whole run; --member is for {string.Join(", ", Keys.Where(k => k.PerMember).Select(k => k.Name))}");
            RequireMember(settings, m);
        }
        TrainingSettings updated;
        try
        {
            updated = Set(live, settings, value.Trim(), member);
        }
        catch (FormatException e)
        {
            throw new SettingsException($"{key}: {e.Message}");
        }
        return updated.Validate();
    }

    /// <summary>The settings with one more member (<c>d-N</c>, N = the members created so far) with its overrides, validated.</summary>
    public static (TrainingSettings Settings, int Member) AddMember(TrainingSettings settings, MemberOverrides overrides)
    {
        var id = settings.Discriminators;
        var members = settings.Members.ToList();
        while (members.Count < id) members.Add(new MemberOverrides());
        members.Add(overrides);
        var grown = settings with { Discriminators = id + 1, Members = members };
        return (grown.Validate(), id);
    }

    /// <summary>The settings without member <paramref name="member"/>, validated (the last member cannot go).</summary>
    public static TrainingSettings RemoveMember(TrainingSettings settings, int member)
    {
        RequireMember(settings, member);
        if (settings.ActiveMembers.Length == 1) throw new SettingsException($"{new DiscriminatorId(member)} is the last discriminator; a training needs at least one");
        return (settings with { RemovedMembers = [.. settings.RemovedMembers.Append(member).Order()] }).Validate();
    }

    /// <summary>Throws, naming the members there are, unless <paramref name="member"/> is in the population.</summary>
    internal static void RequireMember(TrainingSettings settings, int member)
    {
        if (!settings.ActiveMembers.Contains(member))
            throw new SettingsException($"{new DiscriminatorId(member)} is not in the population (members: {string.Join(", ", settings.ActiveMembers.Select(i => new DiscriminatorId(i).EntityId))})");
    }

    /// <summary>A key's new value: for one member (its override), or for the run (every member's override of a per-member key cleared).</summary>
    private static TrainingSettings Set(SettingKeys.Key key, TrainingSettings s, string value, int? member)
    {
        var members = s.Members.ToList();
        if (member is { } m)
        {
            while (members.Count <= m) members.Add(new MemberOverrides());
            members[m] = key.Member!.Set(members[m], value);
            return s with { Members = members };
        }
        var updated = key.Apply(s, value);
        return key.Member is { } overrides ? updated with { Members = [.. members.Select(o => overrides.Set(o, null))] } : updated;
    }
}
