using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using AkkaGan.Control;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;

namespace AkkaGan.Node.Control;

/// <summary>
/// The <c>gan</c> palette of the node that runs a training: <c>status</c> (round, losses per member, last metrics,
/// throughput), <c>watch</c> (a line per evaluation until the client leaves or the training ends), <c>pause</c>,
/// <c>resume</c>, <c>checkpoint</c> (written after the current round; answers with its path) and <c>stop</c> (the
/// clean stop of Ctrl-C: finish the round, evaluate, checkpoint, summarise). Changes are recorded. It observes the run like the progress
/// display does, so it answers from the node's own view without asking the actors.
/// </summary>
internal sealed class GanPalette : IControlPalette, ITrainingObserver
{
    private readonly TrainingSettings _settings;
    private readonly string _engine;
    private readonly Func<double> _roundsPerSecond;
    private readonly Action _stop;
    private readonly Action<string> _record;
    private readonly RunControl _steering;
    private TaskCompletionSource<(long Round, string Path)>? _nextCheckpoint;
    private readonly Lock _gate = new();
    private readonly List<Channel<string>> _watchers = [];
    private RoundReport? _round;
    private EvaluationReport? _evaluation;
    private string? _lastCheckpoint;
    private int _evolutions;
    private bool _stopping;

    /// <param name="record">Records a change made through the control plane (metrics.jsonl and the console).</param>
    public GanPalette(TrainingSettings settings, string engine, Func<double> roundsPerSecond, Action stop, RunControl steering, Action<string> record)
    {
        _steering = steering;
        _record = record;
        _settings = settings;
        _engine = engine;
        _roundsPerSecond = roundsPerSecond;
        _stop = stop;
    }

    public PaletteDescriptor Descriptor { get; } = new("gan", "The training this node runs",
    [
        new("status", "Round, phase, losses per discriminator, last metrics and throughput", []),
        new("watch", "A line per evaluation until you press Ctrl-C or the training ends", []),
        new("pause", "Finish the current round, then wait (gan resume continues, gan stop stops)", []),
        new("resume", "Continue a paused training", []),
        new("checkpoint", "Write a checkpoint after the current round and print where", []),
        new("sample", "Samples from the generator as it is now: -n N (default 1000) and --out FILE (.csv or .png, written by this node); without --out, the first rows",
            SampleArguments),
        new("stop", "Stop after the current round with a final evaluation, checkpoint and summary (like Ctrl-C)", []),
    ]);

    private static readonly ArgumentDescriptor[] SampleArguments =
    [
        new("n", "number of samples (1..100000)", Required: false, ArgumentKind.Option),
        new("out", "file to write on this node: .csv (one sample per row) or .png (scatter over the modes, or an image grid)", Required: false, ArgumentKind.Option),
    ];

    public async IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, [EnumeratorCancellation] CancellationToken ct)
    {
        if (command == "sample")
        {
            await foreach (var line in SampleAsync(args, ct).ConfigureAwait(false)) yield return line;
            yield break;
        }
        if (args.Count > 0) throw new ControlCommandException($"gan {command} takes no arguments (got '{string.Join(' ', args)}')");
        switch (command)
        {
            case "status":
                foreach (var line in Status()) yield return line;
                break;
            case "pause":
                _record("gan pause");
                _steering.Pause();
                yield return $"pausing after round {(_round?.Round ?? 0) + 1}; gan resume continues";
                break;
            case "resume":
                var wasPaused = _steering.IsPaused;
                _record("gan resume");
                _steering.Resume();
                yield return wasPaused ? $"resumed at round {_round?.Round ?? 0}" : "not paused";
                break;
            case "checkpoint":
                var next = new TaskCompletionSource<(long Round, string Path)>(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (_gate) _nextCheckpoint = next;
                _record("gan checkpoint");
                _steering.RequestCheckpoint();
                var (round, path) = await next.Task.WaitAsync(TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
                yield return $"checkpoint of round {round}: {Path.GetFullPath(path)}";
                break;
            case "stop":
                lock (_gate) _stopping = true;
                _record("gan stop");
                _stop();
                yield return $"stopping after round {(_round?.Round ?? 0) + 1}: a final evaluation, checkpoint and summary follow";
                break;
            default:
                var channel = Channel.CreateUnbounded<string>();
                lock (_gate) _watchers.Add(channel);
                try
                {
                    yield return Line();
                    await foreach (var line in channel.Reader.ReadAllAsync(ct).ConfigureAwait(false)) yield return line;
                }
                finally
                {
                    lock (_gate) _watchers.Remove(channel);
                }
                break;
        }
    }

    private async IAsyncEnumerable<string> SampleAsync(IReadOnlyList<string> args, [EnumeratorCancellation] CancellationToken ct)
    {
        ControlArgs parsed;
        try
        {
            parsed = ControlArgs.Parse(args, SampleArguments);
        }
        catch (FormatException e)
        {
            throw new ControlCommandException(e.Message);
        }
        var count = parsed.GetInt("n", 1000);
        if (count is < 1 or > 100_000) throw new ControlCommandException($"-n {count}: between 1 and 100000");
        var output = parsed.Get("out");
        var extension = output is null ? null : Path.GetExtension(output).ToLowerInvariant();
        if (extension is not (null or ".csv" or ".png")) throw new ControlCommandException($"--out {output}: write .csv or .png");

        var batch = await _steering.RequestSamples(count).WaitAsync(TimeSpan.FromMinutes(5), ct).ConfigureAwait(false);
        var width = (int)batch.Shape.Aggregate(1L, (a, b) => a * b);
        if (output is null)
        {
            foreach (var row in Enumerable.Range(0, Math.Min(10, batch.Count)))
                yield return string.Join(",", batch.Samples.Skip(row * width).Take(Math.Min(width, 8)).Select(v => v.ToString("G5", CultureInfo.InvariantCulture)))
                             + (width > 8 ? $",... ({width} values)" : "");
            yield return $"{batch.Count} samples of shape [{string.Join(", ", batch.Shape)}] (first {Math.Min(10, batch.Count)} shown; --out FILE writes them all)";
            yield break;
        }
        var full = Path.GetFullPath(output);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        if (extension == ".csv")
        {
            await using var writer = new StreamWriter(full);
            for (var row = 0; row < batch.Count; row++)
                await writer.WriteLineAsync(string.Join(",", batch.Samples.Skip(row * width).Take(width).Select(v => v.ToString("R", CultureInfo.InvariantCulture)))).ConfigureAwait(false);
        }
        else if (Core.Data.GaussianMixture.For(_settings) is { } mixture)
        {
            Output.Plots.Scatter(full, batch.Samples, batch.Count, mixture, $"akkagan-ctl gan sample, round {_round?.Round ?? 0}");
        }
        else
        {
            Output.Plots.ImageGrid(full, batch.Samples, batch.Shape, Math.Min(batch.Count, 64));
        }
        yield return $"wrote {batch.Count} samples to {full}";
    }

    /// <summary>The training ended: watchers get a last line and their stream ends.</summary>
    public void Finished(long round, bool completed)
    {
        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryWrite($"training {(completed ? "completed" : "stopped")} at round {round}");
                watcher.Writer.TryComplete();
            }
        }
    }

    public void OnRound(RoundReport report)
    {
        lock (_gate) _round = report;
    }

    public void OnEvaluation(EvaluationReport report)
    {
        lock (_gate)
        {
            _evaluation = report;
            var line = Line();
            foreach (var watcher in _watchers) watcher.Writer.TryWrite(line);
        }
    }

    public void OnEvolution(EvolutionReport report)
    {
        lock (_gate) _evolutions++;
    }

    public void OnCheckpoint(long round, string path)
    {
        TaskCompletionSource<(long, string)>? waiting;
        lock (_gate)
        {
            _lastCheckpoint = path;
            waiting = _nextCheckpoint;
            _nextCheckpoint = null;
        }
        waiting?.TrySetResult((round, path));
    }

    private string Line()
    {
        var m = _evaluation?.Mixture;
        var metrics = m is null ? "" : $" | modes {m.ModesCaptured}/{m.Modes} HQ {m.HighQualityFraction:F3} KL {m.ReverseKl:F3}";
        var losses = _round is null ? "" : $" | G {_round.GeneratorLoss:F3} D {_round.MeanDiscriminatorLoss:F3}";
        return string.Create(CultureInfo.InvariantCulture, $"round {_round?.Round ?? 0}/{_settings.Rounds}{losses}{metrics} | {_roundsPerSecond():F1} rounds/s");
    }

    private List<string> Status()
    {
        lock (_gate)
        {
            var phase = _stopping ? "stopping" : _steering.IsPaused ? "paused" : _round is null ? "starting" : "training";
            var lines = new List<string>
            {
                string.Create(CultureInfo.InvariantCulture, $"phase      {phase} (engine {_engine}, dataset {SettingKeys(_settings.Dataset)}, loss {SettingKeys(_settings.Loss)}, unroll {_settings.Unroll})"),
                Line(),
                string.Create(CultureInfo.InvariantCulture, $"evaluated  {(_evaluation is null ? "not yet" : $"at round {_evaluation.Round}")}; checkpoint {_lastCheckpoint ?? "none yet"}; evolutions {_evolutions}"),
                $"{"member",-8} {"loss",10} {"penalty",10} {"D(real)",10} {"D(fake)",10} {"fitness",8}",
            };
            foreach (var d in _round?.Discriminators ?? [])
            {
                var fitness = _evaluation is not null && _evaluation.Fitness.TryGetValue(d.Member, out var f) ? f.ToString("F3", CultureInfo.InvariantCulture) : "-";
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{DiscriminatorCore.EntityIdOf(d.Member),-8} {d.Loss,10:F4} {d.Penalty,10:F4} {d.RealScore,10:F3} {d.FakeScore,10:F3} {fitness,8}"));
            }
            return lines;
        }
    }

    private static string SettingKeys<T>(T value) where T : struct, Enum => Cli.SettingKeys.Kebab(value);
}
