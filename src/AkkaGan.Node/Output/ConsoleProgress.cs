using System.Globalization;
using AkkaGan.Core.Health;
using AkkaGan.Core.Training;
using Spectre.Console;

namespace AkkaGan.Node.Output;

/// <summary>
/// Shows training progress: a Spectre.Console progress bar (round, losses, modes, rounds/s) on a terminal, plain log
/// lines at every evaluation when output is redirected or CI is set.
/// </summary>
public sealed class ConsoleProgress : ITrainingObserver
{
    private readonly long _totalRounds;
    private readonly Func<double> _roundsPerSecond;
    private ProgressTask? _task;
    private RoundReport? _last;
    private string _metrics = "";
    private string _compactMetrics = "";
    private HealthStatus? _health;
    private readonly MissingEntities _missing = new();
    private long _round;

    public ConsoleProgress(long totalRounds, Func<double> roundsPerSecond)
    {
        _totalRounds = totalRounds;
        _roundsPerSecond = roundsPerSecond;
    }

    /// <summary>True when a live progress bar can be drawn (a terminal, not CI).</summary>
    public static bool Interactive =>
        !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")) && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>Runs <paramref name="work"/> under a progress bar (or plainly), reporting through this observer.</summary>
    /// <param name="announce">Whether to say which rounds are trained (a standby does not know them until it takes over).</param>
    public void Run(long startRound, Action work, bool announce = true)
    {
        if (!Interactive)
        {
            if (announce) Log($"training rounds {startRound + 1}..{_totalRounds}");
            work();
            return;
        }
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 20 }, new PercentageColumn(),
                new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                _task = ctx.AddTask("starting", maxValue: _totalRounds);
                _task.Value = startRound;
                work();
                _task.Value = _task.MaxValue;
            });
    }

    /// <summary>A state line before the first round (e.g. waiting for cluster members): the bar's description, or a log line.</summary>
    public void Status(string text)
    {
        if (_task is null) Log(text);
        else _task.Description = Markup.Escape(text);
    }

    public void OnRound(RoundReport report)
    {
        _last = report;
        _round = report.Round;
        if (_task is null) return;
        _task.Value = report.Round;
        if (report.Round % 10 == 0 || report.Round == _totalRounds) _task.Description = Markup.Escape(Compact(report.Round));
    }

    public void OnEvaluation(EvaluationReport report)
    {
        var m = report.Mixture;
        _metrics = m is null ? "" : $" | modes {m.ModesCaptured}/{m.Modes} HQ {m.HighQualityFraction:P1} KL {m.ReverseKl:F3}";
        _compactMetrics = m is null ? "" : $" {m.ModesCaptured}/{m.Modes} modes HQ {m.HighQualityFraction:P0}";
        if (report.Image is { } image)
        {
            _metrics = string.Create(CultureInfo.InvariantCulture, $" | modes {image.ModesCovered}/{image.Modes} KL {image.KlToUniform:F3} FCD {image.Fcd:F2}");
            _compactMetrics = string.Create(CultureInfo.InvariantCulture, $" {image.ModesCovered}/{image.Modes} modes FCD {image.Fcd:F1}");
        }
        if (_task is null) Log(Line(report.Round));
        else _task.Description = Markup.Escape(Compact(report.Round));
    }

    public void OnEvolution(EvolutionReport report)
    {
        var text = $"round {report.Round}: evolution, {DiscriminatorCore.EntityIdOf(report.Worst)} (fitness {report.WorstFitness:F3}) <- " +
                   $"{DiscriminatorCore.EntityIdOf(report.Best)} (fitness {report.BestFitness:F3}), lr {report.NewLearningRate:G3}";
        if (_task is null) Log(text);
    }

    public void OnCheckpoint(long round, string path)
    {
        if (_task is null) Log($"round {round}: checkpoint {path}");
    }

    public void OnChange(ChangeReport report)
    {
        var text = $"round {report.Round}: {report.Description} from round {report.Round + 1}";
        if (_task is null) Log(text);
        else Console.Error.WriteLine("change: " + text);
    }

    public void OnFault(FaultReport report)
    {
        _missing.OnFault(report);
        var text = $"round {report.Round}: {report.Entity} {report.Event}: {report.Detail}";
        if (_task is null) Log(text);
        else
        {
            Console.Error.WriteLine("fault: " + text);
            // No round may complete while the run waits for the entity: the bar says so now.
            _task.Description = Markup.Escape(Compact(_round));
        }
    }

    public void OnPlaced(IReadOnlyDictionary<string, string> nodes) => _missing.OnPlaced(nodes);

    /// <summary>Who is missing now (their nodes unreachable, or left out of rounds), for the status line.</summary>
    private string MissingText => _missing.Ids is { Count: > 0 } ids ? $" | missing {string.Join(",", ids)}" : "";

    /// <summary>The status shows in every line; a change of diagnosis, and a remedy, get a line of their own with the evidence.</summary>
    public void OnHealth(HealthReport report)
    {
        var changed = _health != report.Status;
        _health = report.Status;
        var lines = new List<string>();
        if (changed) lines.Add($"round {report.Round}: health {report.StatusName}: {report.Evidence}");
        // The evidence is on the status line (or was, when the status did not change); metrics.jsonl has it with the remedy.
        if (report.Action is { } action) lines.Add($"round {report.Round}: auto-remedy {action.RemedyName} for {report.StatusName}");
        else if (report.RemedyNote is { } note && changed) lines.Add($"round {report.Round}: no remedy applied ({note})");
        foreach (var text in lines)
        {
            if (_task is null) Log(text);
            else Console.Error.WriteLine(text);
        }
    }

    private string HealthText => _health is { } h ? " | " + Core.Settings.SettingValues.Kebab(h) : "";

    private string Line(long round)
    {
        var losses = _last is null ? "" : string.Create(CultureInfo.InvariantCulture, $" | G {_last.GeneratorLoss:F3} D {_last.MeanDiscriminatorLoss:F3}");
        return string.Create(CultureInfo.InvariantCulture, $"round {round}/{_totalRounds}{losses}{_metrics}{HealthText}{MissingText} | {_roundsPerSecond():F1} rounds/s");
    }

    /// <summary>The bar's description: short enough to survive an 80-column terminal beside the bar.</summary>
    private string Compact(long round)
    {
        var losses = _last is null ? "" : string.Create(CultureInfo.InvariantCulture, $" G {_last.GeneratorLoss:F2} D {_last.MeanDiscriminatorLoss:F2}");
        return string.Create(CultureInfo.InvariantCulture, $"{round}/{_totalRounds}{losses}{_compactMetrics}{(_health is { } h && h != HealthStatus.Healthy ? " " + Core.Settings.SettingValues.Kebab(h) : "")}{(_missing.Ids is { Count: > 0 } ids ? " without " + string.Join(",", ids) : "")} {_roundsPerSecond():F0}/s");
    }

    private static void Log(string text)
        => Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{DateTime.Now:HH:mm:ss}] {text}"));
}

/// <summary>Fans observer events out to several observers, in order.</summary>
public sealed class CompositeObserver(params ITrainingObserver[] observers) : ITrainingObserver
{
    public void OnRound(RoundReport report) { foreach (var o in observers) o.OnRound(report); }
    public void OnEvaluation(EvaluationReport report) { foreach (var o in observers) o.OnEvaluation(report); }
    public void OnEvolution(EvolutionReport report) { foreach (var o in observers) o.OnEvolution(report); }
    public void OnCheckpoint(long round, string path) { foreach (var o in observers) o.OnCheckpoint(round, path); }
    public void OnChange(ChangeReport report) { foreach (var o in observers) o.OnChange(report); }
    public void OnPlaced(IReadOnlyDictionary<string, string> nodes) { foreach (var o in observers) o.OnPlaced(nodes); }
    public void OnFault(FaultReport report) { foreach (var o in observers) o.OnFault(report); }
    public void OnHealth(HealthReport report) { foreach (var o in observers) o.OnHealth(report); }
}
