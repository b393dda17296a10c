using AkkaGan.Core.Settings;

namespace AkkaGan.Core.Training;

/// <summary>
/// A change an operator makes to a running training (the control plane's <c>gan set</c>, <c>gan population add</c>,
/// <c>gan population remove</c>). Every engine applies it between rounds through <see cref="RunChanges.Plan"/>, so the
/// same change after the same round gives the same parameters on every engine.
/// </summary>
public abstract record RunChange
{
    /// <summary>Why the change is made, when not by an operator (e.g. an auto-remedy); shown with the change.</summary>
    public string? Reason { get; init; }
}

/// <summary>Set a live hyper-parameter (<see cref="LiveSettings.Keys"/>), for one member or for all.</summary>
public sealed record SetSetting(string Key, string Value, int? Member = null) : RunChange;

/// <summary>Grow the population by one member with its own overrides (loss, learning rate, regularizers).</summary>
public sealed record AddDiscriminator(MemberOverrides Overrides) : RunChange;

/// <summary>Take a member out of the population (its state is dropped; its id is not reused).</summary>
public sealed record RemoveDiscriminator(int Member) : RunChange;

/// <summary>Replace a member by a fresh one with the same overrides (a new id; the old member's state is dropped).</summary>
public sealed record ReplaceDiscriminator(int Member) : RunChange;

/// <summary>Multiply every learning rate (generator, run, each member's override) by a factor; every optimizer takes it.</summary>
public sealed record ScaleLearningRates(double Factor) : RunChange;

/// <summary>An applied change: it holds from round <see cref="Round"/> + 1 on.</summary>
/// <param name="Round">Rounds completed when the change was applied.</param>
/// <param name="Description">What changed, e.g. <c>lr-d = 0.0005 (every discriminator)</c>.</param>
/// <param name="Settings">The run's settings from then on.</param>
public sealed record ChangeReport(long Round, string Description, TrainingSettings Settings);

/// <summary>What applying a change means: the new settings, and which member joined or left.</summary>
/// <param name="ResetLearningRate">Members whose optimizer learning rate is set from the new settings (lr-d changed).</param>
public sealed record ChangePlan(TrainingSettings Settings, string Description, int? Added, int? Removed, IReadOnlySet<int> ResetLearningRate);

/// <summary>
/// Plans live changes (<c>gan set</c>, <c>gan population</c>, the health remedies): validates a change against the run's settings and says
/// what it means for the entities; both engines apply the plan between rounds.
/// </summary>
public static class RunChanges
{
    /// <summary>
    /// Validates <paramref name="change"/> against the current settings and says what it does; throws
    /// <see cref="SettingsException"/> naming the problem (nothing is applied then).
    /// </summary>
    public static ChangePlan Plan(TrainingSettings settings, RunChange change)
    {
        var plan = PlanOf(settings, change);
        return change.Reason is { } reason ? plan with { Description = $"{plan.Description} ({reason})" } : plan;
    }

    private static ChangePlan PlanOf(TrainingSettings settings, RunChange change)
    {
        switch (change)
        {
            case SetSetting set:
                var updated = LiveSettings.Apply(settings, set.Key, set.Value, set.Member);
                var who = set.Member is { } m ? new DiscriminatorId(m).EntityId : LiveSettings.Find(set.Key).PerMember ? "every discriminator" : null;
                IReadOnlySet<int> reset = set.Key != "lr-d" ? new HashSet<int>()
                    : set.Member is { } one ? new HashSet<int> { one } : new HashSet<int>(updated.ActiveMembers);
                return new ChangePlan(updated, $"{set.Key} = {set.Value.Trim()}{(who is null ? "" : $" ({who})")}", null, null, reset);
            case AddDiscriminator add:
                var (grown, id) = LiveSettings.AddMember(settings, add.Overrides);
                var member = grown.ForMember(id);
                return new ChangePlan(grown, $"added d-{id} (loss {SettingValues.Kebab(member.Loss)}, lr-d {SettingValues.Format(member.LrD)})", id, null, new HashSet<int>());
            case ScaleLearningRates scale:
                if (!(scale.Factor > 0) || double.IsInfinity(scale.Factor)) throw new SettingsException($"learning-rate factor must be positive (got {scale.Factor})");
                var scaled = settings with
                {
                    LrG = settings.LrG * scale.Factor,
                    LrD = settings.LrD * scale.Factor,
                    Members = [.. settings.Members.Select(m => m with { LrD = m.LrD * scale.Factor })],
                };
                return new ChangePlan(scaled.Validate(), $"learning rates x{SettingValues.Format(scale.Factor)}", null, null, new HashSet<int>(scaled.ActiveMembers));
            case ReplaceDiscriminator replace:
                LiveSettings.RequireMember(settings, replace.Member);
                var overrides = replace.Member < settings.Members.Count ? settings.Members[replace.Member] : new MemberOverrides();
                var (withNew, fresh) = LiveSettings.AddMember(settings, overrides);
                return new ChangePlan(LiveSettings.RemoveMember(withNew, replace.Member), $"replaced d-{replace.Member} by a fresh d-{fresh}", fresh, replace.Member, new HashSet<int>());
            case RemoveDiscriminator remove:
                return new ChangePlan(LiveSettings.RemoveMember(settings, remove.Member), $"removed d-{remove.Member}", null, remove.Member, new HashSet<int>());
            default:
                throw new SettingsException($"unknown change {change}");
        }
    }
}
