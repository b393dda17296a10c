using System.Globalization;

namespace AkkaGan.Core.Training;

/// <summary>
/// Decides from each round's report whether a run diverged: a non-finite loss or gradient norm (generator or any
/// discriminator), or, with <see cref="Settings.TrainingSettings.GradNormLimit"/> above 0, a gradient norm above that
/// multiple of its median over the last 100 rounds (after 20 rounds; medians below 0.01 count as 0.01). Both engines feed it the same reports, so they
/// take the same decisions. Reset it after a roll-back.
/// </summary>
public sealed class DivergenceGuard(double gradNormLimit)
{
    private const int Window = 100;
    private const int Warmup = 20;
    /// <summary>
    /// Medians below this count as this: a saturated network's norms can sit near 0 for hundreds of rounds, and its
    /// first ordinary gradient afterwards (e.g. after a remedy) is no explosion.
    /// </summary>
    private const double MedianFloor = 1e-2;
    private readonly Dictionary<string, Queue<double>> _norms = [];

    /// <summary>Why the round diverged, or null when it did not (the round's norms then join the window).</summary>
    public string? Check(RoundReport report)
    {
        var values = new List<(string Entity, string What, double Value, bool IsNorm)>
        {
            (GeneratorCore.EntityId, "loss", report.GeneratorLoss, false),
            (GeneratorCore.EntityId, "gradient norm", report.GeneratorGradientNorm, true),
        };
        foreach (var d in report.Discriminators)
        {
            var id = DiscriminatorCore.EntityIdOf(d.Member);
            values.Add((id, "loss", d.Loss, false));
            values.Add((id, "penalty", d.Penalty, false));
            values.Add((id, "gradient norm", d.GradientNorm, true));
        }
        foreach (var (entity, what, value, _) in values)
            if (!double.IsFinite(value)) return string.Create(CultureInfo.InvariantCulture, $"{entity} {what} is {value} in round {report.Round}");
        if (gradNormLimit > 0)
        {
            foreach (var (entity, _, value, _) in values.Where(v => v.IsNorm))
            {
                if (!_norms.TryGetValue(entity, out var window) || window.Count < Warmup) continue;
                var median = window.Order().ElementAt(window.Count / 2);
                if (value > gradNormLimit * Math.Max(median, MedianFloor))
                    return string.Create(CultureInfo.InvariantCulture,
                        $"{entity} gradient norm {value:G4} in round {report.Round} is {value / median:G3} x its median {median:G4} of the last {window.Count} rounds");
            }
        }
        foreach (var (entity, _, value, _) in values.Where(v => v.IsNorm))
        {
            if (!_norms.TryGetValue(entity, out var window)) _norms[entity] = window = new Queue<double>();
            window.Enqueue(value);
            if (window.Count > Window) window.Dequeue();
        }
        return null;
    }

    /// <summary>Forgets the gradient-norm windows (after a roll-back, the norms start again).</summary>
    public void Reset() => _norms.Clear();

    /// <summary>The fault detail of a roll-back (the same words on every engine).</summary>
    public static string RollBackDetail(string reason, long to, long from)
        => $"{reason}: every entity goes back to round {to}, {from - to} round(s) are redone";

    /// <summary>The message of a run stopped by the guard.</summary>
    public static string GiveUp(string reason, int rollbacks, long lastGood)
        => $"diverged: {reason}; {rollbacks} roll-back(s) with lower learning rates did not help. " + (lastGood > 0
            ? $"The checkpoints up to round {lastGood} are intact: resume from one with lower learning rates (--resume DIR --lr-g X --lr-d Y)"
            : "It diverged before its first checkpoint: start again with lower learning rates (--lr-g, --lr-d)");
}

/// <summary>A run that kept diverging after its allowed roll-backs; its checkpoints up to <see cref="LastGoodRound"/> are intact.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>
    /// Creates the exception; <paramref name="lastGoodRound"/> is the round of the last checkpoint before the divergence.
    /// </summary>
    public TrainingDivergedException(string message, long lastGoodRound) : base(message) => LastGoodRound = lastGoodRound;

    /// <summary>Creates the exception with the default message.</summary>
    public TrainingDivergedException() : base("training diverged") { }

    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    public TrainingDivergedException(string message) : base(message) { }

    /// <summary>Creates the exception with <paramref name="message"/> and its cause.</summary>
    public TrainingDivergedException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The round of the last checkpoint before the divergence (0: none).</summary>
    public long LastGoodRound { get; }
}
