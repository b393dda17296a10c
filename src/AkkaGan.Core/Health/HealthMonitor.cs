using System.Globalization;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;

namespace AkkaGan.Core.Health;

/// <summary>The diagnosis of a training's health (kebab-case in outputs: <c>vanishing-gradients</c>, ...).</summary>
public enum HealthStatus
{
    /// <summary>No diagnosis holds.</summary>
    Healthy,
    /// <summary>The discriminators win so completely that the generator's feedback has all but vanished.</summary>
    VanishingGradients,
    /// <summary>The generator covers a few of the data's modes, or repeats itself.</summary>
    ModeCollapse,
    /// <summary>The losses oscillate or the generator keeps moving without settling.</summary>
    NonConvergence,
    /// <summary>Non-finite losses or gradients, or a gradient explosion (the divergence guard's roll-back).</summary>
    Diverged,
}

/// <summary>One diagnosis that holds, with the evidence that triggered it.</summary>
public sealed record HealthFinding(HealthStatus Status, string Evidence);

/// <summary>
/// The signals behind a diagnosis. Windowed ones cover the last <see cref="HealthSettings.Window"/> rounds; the
/// evaluation ones come from the last evaluation (null before the first).
/// </summary>
/// <param name="Rounds">Rounds in the window.</param>
/// <param name="DAccuracy">Mean share of real and fake inputs the discriminators classified right.</param>
/// <param name="RealLogit">Mean discriminator logit on real data.</param>
/// <param name="FakeLogit">Mean discriminator logit on fakes.</param>
/// <param name="FeedbackNorm">Mean norm of the aggregated dL/dx_fake the generator stepped on.</param>
/// <param name="FeedbackRatio">That norm relative to its early level (rounds 1..baseline-rounds).</param>
/// <param name="GeneratorLossStd">Standard deviation of the generator loss.</param>
/// <param name="DiscriminatorLossStd">Standard deviation of the mean discriminator loss.</param>
/// <param name="MarginSignChanges">Share of rounds where the real-fake logit margin crossed its window mean (oscillation's rhythm).</param>
/// <param name="Drift">Mean relative parameter change of the generator per round.</param>
/// <param name="NonFinite">Non-finite losses or norms in the window.</param>
/// <param name="MemberLoss">Each member's mean loss.</param>
/// <param name="MemberAccuracy">Each member's mean accuracy.</param>
public sealed record HealthSignals(int Rounds, double DAccuracy, double RealLogit, double FakeLogit, double FeedbackNorm, double FeedbackRatio,
    double GeneratorLossStd, double DiscriminatorLossStd, double MarginSignChanges, double Drift, int NonFinite,
    IReadOnlyDictionary<int, double> MemberLoss, IReadOnlyDictionary<int, double> MemberAccuracy)
{
    /// <summary>Round of the evaluation the following values come from.</summary>
    public long? EvalRound { get; init; }
    /// <summary>2-D data: modes captured and modes.</summary>
    public int? ModesCaptured { get; init; }
    /// <summary>2-D data: the modes of the dataset.</summary>
    public int? Modes { get; init; }
    /// <summary>2-D data: share of high-quality samples.</summary>
    public double? HighQuality { get; init; }
    /// <summary>Images: entropy of the classifier's class histogram over its maximum (1 = every class equally often).</summary>
    public double? ClassEntropy { get; init; }
    /// <summary>Any data: mean pairwise distance of generated samples / that of real ones.</summary>
    public double? PairwiseRatio { get; init; }
    /// <summary>Any data: share of near-duplicate generated pairs.</summary>
    public double? DuplicateShare { get; init; }
}

/// <summary>A diagnosis after round <see cref="Round"/>: the status (the most severe finding), every finding and the signals.</summary>
public sealed record HealthReport(long Round, HealthStatus Status, IReadOnlyList<HealthFinding> Findings, HealthSignals Signals)
{
    /// <summary>The evidence of the status.</summary>
    public string Evidence => Findings.FirstOrDefault(f => f.Status == Status)?.Evidence ?? "every signal within its threshold";

    /// <summary>The remedy applied after this diagnosis (<c>--auto-remedy</c>), or null.</summary>
    public RemedyAction? Action { get; init; }

    /// <summary>Why a remedy was due but not applied (cooldown, none left, refused), or null.</summary>
    public string? RemedyNote { get; init; }

    /// <summary>The status in kebab case, as outputs write it.</summary>
    public string StatusName => SettingValues.Kebab(Status);
}

/// <summary>
/// Watches a training from the reports every engine produces (rounds and evaluations) and diagnoses the three classic
/// GAN failures plus divergence, with explicit thresholds (<see cref="HealthSettings"/>). Pure bookkeeping: no tensor,
/// no clock, so both engines reach the same diagnosis at the same round.
/// </summary>
public sealed class HealthMonitor
{
    private readonly HealthSettings _settings;
    private readonly Queue<Entry> _window = new();
    private double _baselineSum;
    private int _baselineCount;
    private long? _divergedRound;
    private string? _divergedReason;
    private EvaluationReport? _evaluation;

    private sealed record Entry(long Round, double GeneratorLoss, double DiscriminatorLoss, double Accuracy, double RealLogit, double FakeLogit,
        double FeedbackNorm, double Drift, bool NonFinite, IReadOnlyList<DiscriminatorStepResult> Members);

    /// <summary>A monitor with the thresholds of <paramref name="settings"/> (<c>akkagan.health</c>).</summary>
    public HealthMonitor(HealthSettings settings) => _settings = settings;

    /// <summary>A round's report.</summary>
    public void Observe(RoundReport report)
    {
        var members = report.Discriminators;
        var nonFinite = !double.IsFinite(report.GeneratorLoss) || !double.IsFinite(report.GeneratorGradientNorm)
                        || members.Any(d => !double.IsFinite(d.Loss) || !double.IsFinite(d.GradientNorm));
        _window.Enqueue(new Entry(report.Round, report.GeneratorLoss, report.MeanDiscriminatorLoss,
            Mean(members.Select(d => d.Accuracy)), Mean(members.Select(d => d.RealScore)), Mean(members.Select(d => d.FakeScore)),
            report.FeedbackNorm, report.GeneratorDrift, nonFinite, members));
        while (_window.Count > _settings.Window) _window.Dequeue();
        // The early level: the first rounds this monitor sees (rounds 1..N of a new run; after --resume, those after it).
        if (_baselineCount < _settings.BaselineRounds && double.IsFinite(report.FeedbackNorm))
        {
            _baselineSum += report.FeedbackNorm;
            _baselineCount++;
        }
    }

    /// <summary>An evaluation's report (mode coverage, class histogram, diversity).</summary>
    public void Observe(EvaluationReport report) => _evaluation = report;

    /// <summary>The divergence guard rolled the run back after round <paramref name="round"/>.</summary>
    public void Diverged(long round, string reason)
    {
        _divergedRound = round;
        _divergedReason = reason;
    }

    /// <summary>The diagnosis after round <paramref name="round"/>.</summary>
    public HealthReport Diagnose(long round)
    {
        var signals = Signals();
        var findings = new List<HealthFinding>();
        if (_divergedRound is { } diverged && round - diverged < _settings.Window)
            findings.Add(new(HealthStatus.Diverged, $"rolled back after round {diverged}: {_divergedReason}"));
        else if (signals.NonFinite > 0)
            findings.Add(new(HealthStatus.Diverged, $"{signals.NonFinite} non-finite losses or gradient norms in the last {signals.Rounds} rounds"));
        else if (signals.Rounds >= _settings.Window / 2 && Math.Abs(signals.RealLogit - signals.FakeLogit) < DeadMargin && signals.FeedbackRatio < DeadFeedback)
            findings.Add(new(HealthStatus.Diverged,
                $"the networks died: the discriminators score real and fake alike (logits {F(signals.RealLogit)} / {F(signals.FakeLogit)}) and the generator's " +
                $"feedback is {P(signals.FeedbackRatio)} of its early level (typical after a blow-up from too high learning rates)"));
        // Oscillation shows within half a window; a run does not need to warm up to swing.
        if (signals.Rounds >= _settings.Window / 2)
        {
            var oscillation = new List<string>();
            if (signals.GeneratorLossStd > _settings.OscillationLossStd)
                oscillation.Add($"generator loss std {F(signals.GeneratorLossStd)} over {signals.Rounds} rounds (> {F(_settings.OscillationLossStd)}), " +
                                $"margin crossing its mean in {P(signals.MarginSignChanges)} of rounds");
            if (signals.Drift > _settings.OscillationDrift)
                oscillation.Add($"the generator moves {P(signals.Drift)} of its weights per round (> {P(_settings.OscillationDrift)})");
            if (oscillation.Count > 0) findings.Add(new(HealthStatus.NonConvergence, string.Join("; ", oscillation)));
        }
        if (round >= _settings.Warmup && signals.Rounds > 0)
        {
            if (signals.DAccuracy >= _settings.VanishingAccuracy && signals.FeedbackRatio <= _settings.VanishingFeedbackRatio)
                findings.Add(new(HealthStatus.VanishingGradients,
                    $"discriminator accuracy {F(signals.DAccuracy)} (>= {F(_settings.VanishingAccuracy)}), logits real {F(signals.RealLogit)} / fake {F(signals.FakeLogit)}; " +
                    $"the generator's feedback |dL/dx_fake| is {P(signals.FeedbackRatio)} of its early level (<= {P(_settings.VanishingFeedbackRatio)})"));
            if (Collapse(signals) is { } collapse) findings.Add(new(HealthStatus.ModeCollapse, collapse));
        }
        var status = findings.Count == 0 ? HealthStatus.Healthy : findings.MaxBy(f => Severity(f.Status))!.Status;
        findings.Sort((a, b) => Severity(b.Status).CompareTo(Severity(a.Status)));
        return new HealthReport(round, status, findings, signals);
    }

    /// <summary>Which diagnosis wins when several hold: diverged, vanishing gradients, mode collapse, non-convergence.</summary>
    public static int Severity(HealthStatus status) => status switch
    {
        HealthStatus.Diverged => 4,
        HealthStatus.VanishingGradients => 3,
        HealthStatus.ModeCollapse => 2,
        HealthStatus.NonConvergence => 1,
        _ => 0,
    };

    /// <summary>Dead networks: real and fake logits closer than this, and a feedback below <see cref="DeadFeedback"/> of its early level.</summary>
    private const double DeadMargin = 1e-3;
    private const double DeadFeedback = 1e-3;

    private string? Collapse(HealthSignals s)
    {
        // Only an evaluation after the warm-up counts: early samples of every GAN cover few modes.
        if (s.EvalRound is not { } evalRound || evalRound < _settings.Warmup) return null;
        var evidence = new List<string>();
        if (s.ModesCaptured is { } captured && s.Modes is { } modes && captured < _settings.CollapseModesFraction * modes)
            evidence.Add($"{captured}/{modes} modes captured (< {P(_settings.CollapseModesFraction)})");
        if (s.ClassEntropy is { } entropy && entropy < _settings.CollapseClassEntropy)
            evidence.Add($"class-histogram entropy {P(entropy)} of its maximum (< {P(_settings.CollapseClassEntropy)})");
        if (s.PairwiseRatio is { } ratio && ratio < _settings.CollapsePairwiseRatio)
            evidence.Add($"samples {F(ratio)}x as far apart as real ones (< {F(_settings.CollapsePairwiseRatio)})");
        if (s.DuplicateShare is { } duplicates && duplicates > _settings.CollapseDuplicateShare)
            evidence.Add($"{P(duplicates)} near-duplicate pairs (> {P(_settings.CollapseDuplicateShare)}; real data about 1%)");
        return evidence.Count == 0 ? null : $"evaluation of round {evalRound}: {string.Join(", ", evidence)}";
    }

    /// <summary>The signals as they are now.</summary>
    public HealthSignals Signals()
    {
        var entries = _window.ToArray();
        var finite = entries.Where(e => !e.NonFinite).ToArray();
        var margin = finite.Select(e => e.RealLogit - e.FakeLogit).ToArray();
        var marginMean = margin.Length > 0 ? margin.Average() : 0;
        var crossings = 0;
        for (var i = 1; i < margin.Length; i++)
            if (Math.Sign(margin[i] - marginMean) != Math.Sign(margin[i - 1] - marginMean)) crossings++;
        var feedback = Mean(finite.Select(e => e.FeedbackNorm));
        var baseline = _baselineCount > 0 ? _baselineSum / _baselineCount : double.NaN;
        var byMember = finite.SelectMany(e => e.Members).GroupBy(m => m.Member).OrderBy(g => g.Key).ToArray();
        var signals = new HealthSignals(entries.Length, Mean(finite.Select(e => e.Accuracy)), Mean(finite.Select(e => e.RealLogit)),
            Mean(finite.Select(e => e.FakeLogit)), feedback, baseline > 0 ? feedback / baseline : double.NaN,
            Std(finite.Select(e => e.GeneratorLoss)), Std(finite.Select(e => e.DiscriminatorLoss)),
            margin.Length > 1 ? (double)crossings / (margin.Length - 1) : 0, Mean(finite.Select(e => e.Drift)), entries.Count(e => e.NonFinite),
            byMember.ToDictionary(g => g.Key, g => Mean(g.Select(m => m.Loss))), byMember.ToDictionary(g => g.Key, g => Mean(g.Select(m => m.Accuracy))));
        if (_evaluation is not { } e) return signals;
        double? entropy = null;
        if (e.Image is { } image)
        {
            var total = (double)image.ModeCounts.Sum();
            var h = image.ModeCounts.Where(c => c > 0).Sum(c => -(c / total) * Math.Log(c / total));
            var max = Math.Log(Math.Min(image.Modes, Math.Max(2, image.Samples)));
            entropy = max > 0 ? h / max : 1;
        }
        return signals with
        {
            EvalRound = e.Round,
            // Image coverage is judged by the class histogram's entropy (an evaluation of N samples cannot cover more than N
            // of Stacked Fashion-MNIST's 1000 modes).
            ModesCaptured = e.Mixture?.ModesCaptured,
            Modes = e.Mixture?.Modes,
            HighQuality = e.Mixture?.HighQualityFraction,
            ClassEntropy = entropy,
            PairwiseRatio = e.Diversity?.PairwiseRatio,
            DuplicateShare = e.Diversity?.DuplicateShare,
        };
    }

    private static double Mean(IEnumerable<double> values)
    {
        var list = values.Where(double.IsFinite).ToArray();
        return list.Length == 0 ? double.NaN : list.Average();
    }

    private static double Std(IEnumerable<double> values)
    {
        var list = values.Where(double.IsFinite).ToArray();
        if (list.Length < 2) return 0;
        var mean = list.Average();
        return Math.Sqrt(list.Sum(v => (v - mean) * (v - mean)) / (list.Length - 1));
    }

    internal static string F(double value) => value.ToString(Math.Abs(value) >= 100 ? "0" : "0.###", CultureInfo.InvariantCulture);

    internal static string P(double value) => (100 * value).ToString(value < 0.1 ? "0.##" : "0", CultureInfo.InvariantCulture) + "%";
}
