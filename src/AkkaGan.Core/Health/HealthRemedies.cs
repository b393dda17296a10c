using System.Globalization;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;

namespace AkkaGan.Core.Health;

/// <summary>A remedy the monitor applies: what, against which diagnosis, why, and the change it makes.</summary>
public sealed record RemedyAction(Remedy Remedy, HealthStatus Against, string Reason, RunChange Change)
{
    /// <summary>The remedy in kebab case, as outputs and <c>akkagan.health.remedies</c> write it.</summary>
    public string RemedyName => SettingValues.Kebab(Remedy);
}

/// <summary>
/// Chooses the counter-measure of a diagnosis (<c>--auto-remedy</c>): the first remedy of the diagnosis' list
/// (<see cref="HealthSettings"/>) that applies to the run as it is and has been used fewer than
/// <see cref="HealthSettings.MaxPerRemedy"/> times, at most one every <see cref="HealthSettings.Cooldown"/> rounds.
/// A remedy is an ordinary <see cref="RunChange"/>, applied between rounds like an operator's, so it is validated,
/// recorded (<c>"event":"change"</c>) and kept in checkpoints the same way. Divergence has no remedy here: the
/// divergence guard (<c>train.max-rollbacks</c>) already rolls back to the last good checkpoint with lower learning rates.
/// </summary>
public sealed class HealthRemedies
{
    private readonly HealthSettings _settings;
    private readonly Dictionary<Remedy, int> _used = [];
    private long? _last;

    /// <summary>Remedies chosen by the lists, steps, cooldown and limits of <paramref name="settings"/>.</summary>
    public HealthRemedies(HealthSettings settings) => _settings = settings;

    /// <summary>Times each remedy was applied.</summary>
    public IReadOnlyDictionary<Remedy, int> Used => _used;

    /// <summary>
    /// The remedy for <paramref name="report"/> on a run with <paramref name="settings"/>, or null with the reason
    /// in <paramref name="note"/> (null when nothing was due). Call <see cref="Applied"/> once it took effect.
    /// </summary>
    public RemedyAction? Decide(HealthReport report, TrainingSettings settings, out string? note)
    {
        note = null;
        var list = report.Status switch
        {
            HealthStatus.VanishingGradients => _settings.VanishingRemedies,
            HealthStatus.ModeCollapse => _settings.CollapseRemedies,
            HealthStatus.NonConvergence => _settings.NonConvergenceRemedies,
            _ => null,
        };
        if (list is null) return null;
        if (_last is { } last && report.Round - last < _settings.Cooldown)
        {
            note = $"cooldown: the last remedy was after round {last}, the next may follow after round {last + _settings.Cooldown}";
            return null;
        }
        foreach (var remedy in list)
        {
            if (_used.GetValueOrDefault(remedy) >= _settings.MaxPerRemedy) continue;
            if (Change(remedy, settings, report) is not { } change) continue;
            var reason = $"auto-remedy {SettingValues.Kebab(remedy)} for {report.StatusName}: {report.Evidence}";
            return new RemedyAction(remedy, report.Status, reason, change with { Reason = $"auto-remedy {SettingValues.Kebab(remedy)} for {report.StatusName}" });
        }
        note = $"no remedy of {report.StatusName} left to apply (tried: {string.Join(", ", list.Select(r => $"{SettingValues.Kebab(r)} x{_used.GetValueOrDefault(r)}"))})";
        return null;
    }

    /// <summary>Records that <paramref name="action"/> took effect after round <paramref name="round"/> (starts the cooldown).</summary>
    public void Applied(RemedyAction action, long round)
    {
        _used[action.Remedy] = _used.GetValueOrDefault(action.Remedy) + 1;
        _last = round;
    }

    /// <summary>The change a remedy makes on a run with <paramref name="s"/>, or null where it does not apply.</summary>
    private RunChange? Change(Remedy remedy, TrainingSettings s, HealthReport report)
    {
        var members = s.ActiveMembers;
        switch (remedy)
        {
            case Remedy.NonSaturating:
                // Only a minimax population: the two losses share the discriminator's objective, so only the
                // generator's gradient changes (other losses are left alone).
                return members.All(i => s.ForMember(i).Loss == LossKind.Minimax) ? new SetSetting("loss", "non-saturating") : null;
            case Remedy.InstanceNoise:
                var noise = members.Max(i => s.ForMember(i).InstanceNoise);
                return new SetSetting("instance-noise", Format(noise + _settings.NoiseStep));
            case Remedy.FewerCriticSteps:
                return s.NCritic > 1 ? new SetSetting("n-critic", Format(Math.Max(1, s.NCritic / 2))) : null;
            case Remedy.MoreUnroll:
                return s.Unroll < _settings.MaxUnroll ? new SetSetting("unroll", Format(Math.Min(_settings.MaxUnroll, s.Unroll + _settings.UnrollStep))) : null;
            case Remedy.AddDiscriminator:
                return members.Length < _settings.MaxDiscriminators ? new AddDiscriminator(new MemberOverrides()) : null;
            case Remedy.ReinitStrongest:
                var accuracy = report.Signals.MemberAccuracy.Where(a => members.Contains(a.Key) && double.IsFinite(a.Value)).ToArray();
                return accuracy.Length == 0 ? null : new ReplaceDiscriminator(accuracy.MaxBy(a => a.Value).Key);
            case Remedy.MoreR1:
                var r1 = members.Max(i => s.ForMember(i).R1Gamma);
                return new SetSetting("r1-gamma", Format(r1 > 0 ? r1 * 10 : _settings.R1Gamma));
            case Remedy.LowerLr:
                return new ScaleLearningRates(_settings.LrFactor);
            default:
                return null;
        }
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
