namespace AkkaGan.Core.Health;

/// <summary>
/// Thresholds of the training-health diagnoses and the remedies <c>--auto-remedy</c> may apply (HOCON
/// <c>akkagan.health</c>; every value is documented there). The defaults were calibrated on ring8 and grid25 runs
/// (docs/health.md, "When training goes wrong").
/// </summary>
public sealed record HealthSettings
{
    /// <summary>Apply the remedies when a diagnosis holds (flag <c>--auto-remedy</c>); off: diagnose only.</summary>
    public bool AutoRemedy { get; init; }

    /// <summary>Rounds between two diagnoses.</summary>
    public int Every { get; init; } = 50;

    /// <summary>Rounds the windowed signals (accuracy, loss spread, drift, ...) cover.</summary>
    public int Window { get; init; } = 200;

    /// <summary>No vanishing-gradients or mode-collapse diagnosis before this round (the first rounds of every GAN look like both).</summary>
    public int Warmup { get; init; } = 300;

    /// <summary>The generator's early feedback level: the mean feedback norm over the first N rounds (after a resume: the first N after it).</summary>
    public int BaselineRounds { get; init; } = 20;

    // vanishing-gradients: the discriminators win (accuracy) and the generator's feedback has all but gone.
    /// <summary>Mean discriminator accuracy over the window at or above which the discriminators are winning.</summary>
    public double VanishingAccuracy { get; init; } = 0.98;

    /// <summary>Feedback norm over the window relative to its early level at or below which the gradient has vanished.</summary>
    public double VanishingFeedbackRatio { get; init; } = 0.1;

    // mode-collapse: from the last evaluation.
    /// <summary>2-D data: modes captured / modes below this is collapse.</summary>
    public double CollapseModesFraction { get; init; } = 0.5;

    /// <summary>Images: entropy of the classifier's class histogram / its maximum below this is collapse.</summary>
    public double CollapseClassEntropy { get; init; } = 0.8;

    /// <summary>Any data: mean pairwise distance of generated / real samples below this is collapse.</summary>
    public double CollapsePairwiseRatio { get; init; } = 0.5;

    /// <summary>Any data: share of near-duplicate generated pairs above this is collapse (real data: about 0.01).</summary>
    public double CollapseDuplicateShare { get; init; } = 0.2;

    // non-convergence: the losses swing and the generator does not settle.
    /// <summary>Standard deviation of the generator loss over the window above which the losses oscillate.</summary>
    public double OscillationLossStd { get; init; } = 1.0;

    /// <summary>Mean relative parameter change of the generator per round above which it does not settle.</summary>
    public double OscillationDrift { get; init; } = 0.1;

    /// <summary>Rounds after a remedy before the next one (its effect needs time to show).</summary>
    public int Cooldown { get; init; } = 500;

    /// <summary>Times each remedy may be applied in one run.</summary>
    public int MaxPerRemedy { get; init; } = 2;

    /// <summary>The remedies of vanishing gradients, tried in this order (empty: none).</summary>
    public IReadOnlyList<Remedy> VanishingRemedies { get; init; } = [Remedy.NonSaturating, Remedy.InstanceNoise, Remedy.FewerCriticSteps];

    /// <summary>The remedies of mode collapse, tried in this order.</summary>
    public IReadOnlyList<Remedy> CollapseRemedies { get; init; } = [Remedy.MoreUnroll, Remedy.AddDiscriminator, Remedy.ReinitStrongest];

    /// <summary>The remedies of non-convergence, tried in this order.</summary>
    public IReadOnlyList<Remedy> NonConvergenceRemedies { get; init; } = [Remedy.LowerLr, Remedy.MoreR1];

    /// <summary>Instance noise std a remedy sets (or adds to the current one).</summary>
    public double NoiseStep { get; init; } = 0.1;

    /// <summary>Unroll steps a remedy adds, up to <see cref="MaxUnroll"/>.</summary>
    public int UnrollStep { get; init; } = 5;

    /// <summary>The most unroll steps a remedy sets.</summary>
    public int MaxUnroll { get; init; } = 10;

    /// <summary>R1 weight a remedy sets when R1 is off (else it multiplies it by 10).</summary>
    public double R1Gamma { get; init; } = 0.1;

    /// <summary>Learning-rate factor of the lower-lr remedy.</summary>
    public double LrFactor { get; init; } = 0.2;

    /// <summary>Largest population the add-discriminator remedy grows to.</summary>
    public int MaxDiscriminators { get; init; } = 8;

    /// <summary>The problems of these settings, each naming its key (empty when valid).</summary>
    public IEnumerable<string> Problems()
    {
        if (Every < 1) yield return $"health.every must be at least 1 (got {Every})";
        if (Window < 2) yield return $"health.window must be at least 2 (got {Window})";
        if (Warmup < 0) yield return $"health.warmup must not be negative (got {Warmup})";
        if (BaselineRounds < 1) yield return $"health.baseline-rounds must be at least 1 (got {BaselineRounds})";
        foreach (var (name, value) in new[]
                 {
                     ("vanishing-gradients.d-accuracy", VanishingAccuracy), ("vanishing-gradients.feedback-ratio", VanishingFeedbackRatio),
                     ("mode-collapse.modes-fraction", CollapseModesFraction), ("mode-collapse.class-entropy", CollapseClassEntropy),
                     ("mode-collapse.duplicate-share", CollapseDuplicateShare),
                 })
            if (!(value is >= 0 and <= 1)) yield return $"health.{name} must be in [0, 1] (got {value})";
        foreach (var (name, value) in new[]
                 {
                     ("mode-collapse.pairwise-ratio", CollapsePairwiseRatio), ("non-convergence.loss-std", OscillationLossStd),
                     ("non-convergence.drift", OscillationDrift), ("remedies.noise-step", NoiseStep), ("remedies.r1-gamma", R1Gamma),
                 })
            if (!(value >= 0) || double.IsInfinity(value)) yield return $"health.{name} must be a non-negative number (got {value})";
        if (Cooldown < 0) yield return $"health.remedies.cooldown must not be negative (got {Cooldown})";
        if (MaxPerRemedy < 0) yield return $"health.remedies.max-per-remedy must not be negative (got {MaxPerRemedy})";
        if (UnrollStep < 1) yield return $"health.remedies.unroll-step must be at least 1 (got {UnrollStep})";
        if (MaxUnroll < 0) yield return $"health.remedies.max-unroll must not be negative (got {MaxUnroll})";
        if (!(LrFactor is > 0 and < 1)) yield return $"health.remedies.lr-factor must be in (0, 1) (got {LrFactor})";
        if (MaxDiscriminators < 1) yield return $"health.remedies.max-discriminators must be at least 1 (got {MaxDiscriminators})";
        foreach (var (name, list, allowed) in new[]
                 {
                     ("vanishing-gradients", VanishingRemedies, new[] { Remedy.NonSaturating, Remedy.InstanceNoise, Remedy.FewerCriticSteps }),
                     ("mode-collapse", CollapseRemedies, new[] { Remedy.MoreUnroll, Remedy.AddDiscriminator, Remedy.ReinitStrongest }),
                     ("non-convergence", NonConvergenceRemedies, new[] { Remedy.MoreR1, Remedy.LowerLr }),
                 })
            foreach (var r in list.Where(r => !allowed.Contains(r)))
                yield return $"health.remedies.{name}: {Settings.SettingValues.Kebab(r)} is not a remedy of {name} (valid: {string.Join(", ", allowed.Select(a => Settings.SettingValues.Kebab(a)))})";
    }
}

/// <summary>A counter-measure the health monitor may apply (<c>--auto-remedy</c>); kebab-case in HOCON.</summary>
public enum Remedy
{
    /// <summary>Vanishing gradients: members on the minimax loss switch to the non-saturating one (same discriminator objective).</summary>
    NonSaturating,
    /// <summary>Vanishing gradients: add instance noise (or raise it) on every discriminator input.</summary>
    InstanceNoise,
    /// <summary>Vanishing gradients: halve n-critic (the discriminators take fewer steps per round).</summary>
    FewerCriticSteps,
    /// <summary>Mode collapse: more unrolled lookahead steps.</summary>
    MoreUnroll,
    /// <summary>Mode collapse: one more discriminator in the population.</summary>
    AddDiscriminator,
    /// <summary>Mode collapse: the strongest discriminator (highest accuracy) is replaced by a fresh one.</summary>
    ReinitStrongest,
    /// <summary>Non-convergence: turn on the R1 penalty, or raise it tenfold.</summary>
    MoreR1,
    /// <summary>Non-convergence: every learning rate times the lr factor.</summary>
    LowerLr,
}
