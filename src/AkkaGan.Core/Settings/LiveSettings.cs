using AkkaGan.Core.Training;

namespace AkkaGan.Core.Settings;

/// <summary>What a live change touches, so engines tell only the entities that read the key.</summary>
[Flags]
public enum LiveScope
{
    /// <summary>The coordinator's schedule (n-critic, intervals, member selection).</summary>
    Schedule = 1,
    Generator = 2,
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
    /// <summary>One live key: its name (the flag's), help, whether it may target one member, and what it touches.</summary>
    public sealed record Key(string Name, string Description, bool PerMember, LiveScope Scope, Func<TrainingSettings, string, int?, TrainingSettings> Apply);

    public static readonly IReadOnlyList<Key> Keys =
    [
        new("lr-g", "generator learning rate", false, LiveScope.Generator,
            (s, v, _) => s with { LrG = SettingValues.Double(v) }),
        new("lr-d", "discriminator learning rate (replaces an evolved member's rate too)", true, LiveScope.Discriminators,
            (s, v, m) => Member(s, m, SettingValues.Double(v), (o, x) => o with { LrD = x }, (t, x) => t with { LrD = x })),
        new("n-critic", "discriminator steps per round", false, LiveScope.Schedule,
            (s, v, _) => s with { NCritic = SettingValues.Int(v) }),
        new("unroll", "unrolled lookahead steps K (0 = plain GAN)", false, LiveScope.Discriminators,
            (s, v, _) => s with { Unroll = SettingValues.Int(v) }),
        new("aggregate", "mean | softmax | max | subset", false, LiveScope.Generator | LiveScope.Schedule,
            (s, v, _) => s with { Aggregate = SettingValues.Enum<AggregationKind>(v) }),
        new("softmax-lambda", "softmax aggregation temperature", false, LiveScope.Generator,
            (s, v, _) => s with { SoftmaxLambda = SettingValues.Double(v) }),
        new("subset-size", "members drawn per generator step with aggregate=subset", false, LiveScope.Schedule,
            (s, v, _) => s with { SubsetSize = SettingValues.Int(v) }),
        new("instance-noise", "instance noise std on discriminator inputs", true, LiveScope.Discriminators,
            (s, v, m) => Member(s, m, SettingValues.Double(v), (o, x) => o with { InstanceNoise = x }, (t, x) => t with { InstanceNoise = x })),
        new("gradient-penalty", "WGAN-GP penalty weight", true, LiveScope.Discriminators,
            (s, v, m) => Member(s, m, SettingValues.Double(v), (o, x) => o with { GradientPenalty = x }, (t, x) => t with { GradientPenalty = x })),
        new("r1-gamma", "R1 penalty weight", true, LiveScope.Discriminators,
            (s, v, m) => Member(s, m, SettingValues.Double(v), (o, x) => o with { R1Gamma = x }, (t, x) => t with { R1Gamma = x })),
        new("l2-penalty", "L2 weight penalty", true, LiveScope.Discriminators,
            (s, v, m) => Member(s, m, SettingValues.Double(v), (o, x) => o with { L2Penalty = x }, (t, x) => t with { L2Penalty = x })),
        new("loss", "GAN loss pair of the discriminators and of their feedback to the generator", true, LiveScope.Discriminators,
            (s, v, m) => Member(s, m, SettingValues.Enum<LossKind>(v), (o, x) => o with { Loss = x }, (t, x) => t with { Loss = x })),
        new("eval-every", "evaluation interval in rounds", false, LiveScope.Schedule,
            (s, v, _) => s with { EvalEvery = SettingValues.Int(v) }),
        new("checkpoint-every", "checkpoint interval in rounds", false, LiveScope.Schedule,
            (s, v, _) => s with { CheckpointEvery = SettingValues.Int(v) }),
    ];

    public static string KeyList => string.Join(", ", Keys.Select(k => k.Name));

    /// <summary>The key named <paramref name="name"/>; unknown names are refused with the list of valid ones.</summary>
    public static Key Find(string name)
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
            updated = live.Apply(settings, value.Trim(), member);
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

    /// <summary>A per-member key: one member's override, or the run's value with every member's override of it cleared.</summary>
    private static TrainingSettings Member<T>(TrainingSettings s, int? member, T value,
        Func<MemberOverrides, T?, MemberOverrides> set, Func<TrainingSettings, T, TrainingSettings> setRun) where T : struct
    {
        var members = s.Members.ToList();
        if (member is { } m)
        {
            while (members.Count <= m) members.Add(new MemberOverrides());
            members[m] = set(members[m], value);
            return s with { Members = members };
        }
        return setRun(s, value) with { Members = [.. members.Select(o => set(o, null))] };
    }
}
