using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using AkkaGan.Control;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Health;
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
    /// <summary>Rounds the <c>health</c> window covers (and the early baseline it compares with).</summary>
    internal const int HealthWindow = 50;
    private TrainingSettings _settings;
    private readonly string _engine;
    private readonly Func<double> _roundsPerSecond;
    private readonly Action _stop;
    private readonly Action<string, string> _record;
    private readonly RunControl _steering;
    private TaskCompletionSource<(long Round, string Path)>? _nextCheckpoint;
    private readonly Lock _gate = new();
    private readonly List<Channel<string>> _watchers = [];
    private RoundReport? _round;
    private EvaluationReport? _evaluation;
    private string? _lastCheckpoint;
    private int _evolutions;
    private bool _stopping;
    private readonly Dictionary<int, double> _learningRates = [];
    private readonly Dictionary<string, string> _placement = new(StringComparer.Ordinal);
    private readonly Queue<RoundReport> _recent = new();
    private readonly List<RoundReport> _early = [];
    private long _nonFinite;
    private readonly List<FaultReport> _faults = [];
    private HealthReport? _health;
    private readonly List<string> _remedies = [];

    /// <param name="record">Records a command that changes the run (metrics.jsonl and the console): the command, and who gave it.</param>
    public GanPalette(TrainingSettings settings, string engine, Func<double> roundsPerSecond, Action stop, RunControl steering, Action<string, string> record)
    {
        _steering = steering;
        _record = record;
        _settings = settings;
        foreach (var i in settings.ActiveMembers) _learningRates[i] = settings.ForMember(i).LrD;
        _engine = engine;
        _roundsPerSecond = roundsPerSecond;
        _stop = stop;
    }

    // Declared before Described, which uses them: static fields are initialised in the order written.
    private static readonly ArgumentDescriptor[] SetArguments =
    [
        new("key", "the setting (gan set with no key lists them)", Required: false, ArgumentKind.Positional),
        new("value", "its new value, as the flag of the same name takes it", Required: false, ArgumentKind.Positional),
        new("member", "only this discriminator (d-N), for per-member keys", Required: false, ArgumentKind.Option),
    ];

    private static readonly ArgumentDescriptor[] PopulationArguments =
    [
        new("action", "list (default), add or remove", Required: false, ArgumentKind.Positional),
        new("member", "the member to remove (d-N)", Required: false, ArgumentKind.Positional),
        new("loss", "add: the new member's loss", Required: false, ArgumentKind.Option),
        new("lr", "add: its learning rate", Required: false, ArgumentKind.Option),
        new("gradient-penalty", "add: its gradient-penalty weight", Required: false, ArgumentKind.Option),
        new("r1-gamma", "add: its R1 weight", Required: false, ArgumentKind.Option),
        new("instance-noise", "add: its instance noise", Required: false, ArgumentKind.Option),
        new("l2-penalty", "add: its L2 weight penalty", Required: false, ArgumentKind.Option),
        new("clip", "add: its weight clipping", Required: false, ArgumentKind.Option),
    ];

    private static readonly ArgumentDescriptor[] SampleArguments =
    [
        new("n", "number of samples (1..100000)", Required: false, ArgumentKind.Option),
        new("out", "file to write on the node that trains: .csv (one sample per row) or .png (scatter over the modes, or an image grid)", Required: false, ArgumentKind.Option),
    ];

    public PaletteDescriptor Descriptor => Described;

    /// <summary>The palette's commands, which the other nodes of a cluster also offer (forwarded to this node).</summary>
    public static PaletteDescriptor Described { get; } = new("gan", "The training this cluster runs",
    [
        new("status", "Round, phase, losses per discriminator, last metrics and throughput", []),
        new("watch", "A line per evaluation until you press Ctrl-C or the training ends", []),
        new("pause", "Finish the current round, then wait (gan resume continues, gan stop stops)", []),
        new("resume", "Continue a paused training", []),
        new("checkpoint", "Write a checkpoint after the current round and print where", []),
        new("sample", "Samples from the generator as it is now: -n N (default 1000) and --out FILE (.csv or .png, written by the node that trains); without --out, the first rows",
            SampleArguments),
        new("set", $"Change a hyper-parameter from the next round: KEY VALUE [--member d-N] (keys: {LiveSettings.KeyList})", SetArguments),
        new("population", "The discriminators (loss, learning rate, node, last loss, fitness); 'add [--loss L] [--lr X] [...]' grows it, " +
                          "'remove d-N' shrinks it, from the next round", PopulationArguments),
        new("health", $"The training-health diagnosis with its evidence and remedies, then losses, score margins and gradient norms over the last {HealthWindow} rounds", []),
        new("stop", "Stop after the current round with a final evaluation, checkpoint and summary (like Ctrl-C)", []),
    ]);

    private volatile IControlPalette? _forward;

    /// <summary>
    /// Answers every command with <paramref name="palette"/> (the training another node runs) until called again with
    /// null: a standby coordinator's operator steers the running training, not the one this node has yet to start.
    /// </summary>
    public void ForwardTo(IControlPalette? palette) => _forward = palette;

    public IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, CancellationToken ct)
        => ExecuteAsync(command, args, "unknown", ct);

    /// <param name="caller">Who asked (the client's address, and the node that forwarded the request), for the record.</param>
    public async IAsyncEnumerable<string> ExecuteAsync(string command, IReadOnlyList<string> args, string caller, [EnumeratorCancellation] CancellationToken ct)
    {
        if (_forward is { } forward)
        {
            await foreach (var line in forward.ExecuteAsync(command, args, caller, ct).ConfigureAwait(false)) yield return line;
            yield break;
        }
        if (command == "sample")
        {
            await foreach (var line in SampleAsync(args, ct).ConfigureAwait(false)) yield return line;
            yield break;
        }
        if (command is "set" or "population")
        {
            var change = command == "set" ? ParseSet(args) : ParsePopulation(args);
            if (change is null)
            {
                foreach (var line in command == "set" ? LiveKeys() : Population()) yield return line;
                yield break;
            }
            _record($"gan {command} {string.Join(' ', args)}", caller);
            ChangeReport report;
            try
            {
                report = await _steering.RequestChange(change).WaitAsync(TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
            }
            catch (SettingsException e)
            {
                throw new ControlCommandException(e.Problems.Count > 0 ? string.Join("; ", e.Problems) : e.Message);
            }
            yield return $"{report.Description} from round {report.Round + 1}";
            yield break;
        }
        if (args.Count > 0) throw new ControlCommandException($"gan {command} takes no arguments (got '{string.Join(' ', args)}')");
        switch (command)
        {
            case "status":
                foreach (var line in Status()) yield return line;
                break;
            case "pause":
                _record("gan pause", caller);
                _steering.Pause();
                yield return $"pausing after the round in progress (last completed: {_round?.Round ?? 0}); gan resume continues";
                break;
            case "resume":
                var wasPaused = _steering.IsPaused;
                _record("gan resume", caller);
                _steering.Resume();
                yield return wasPaused ? $"resumed at round {_round?.Round ?? 0}" : "not paused";
                break;
            case "checkpoint":
                var next = new TaskCompletionSource<(long Round, string Path)>(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (_gate) _nextCheckpoint = next;
                _record("gan checkpoint", caller);
                _steering.RequestCheckpoint();
                var (round, path) = await next.Task.WaitAsync(TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
                yield return $"checkpoint of round {round}: {Path.GetFullPath(path)}";
                break;
            case "health":
                foreach (var line in Health()) yield return line;
                break;
            case "stop":
                lock (_gate) _stopping = true;
                _record("gan stop", caller);
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

    /// <summary>A <c>gan set</c> request, or null to list the keys (no arguments).</summary>
    private SetSetting? ParseSet(IReadOnlyList<string> args)
    {
        var parsed = Parse(args, SetArguments);
        if (parsed.Get("key") is not { } key) return null;
        var live = LiveSettings.Keys.FirstOrDefault(k => k.Name == key)
                   ?? throw new ControlCommandException($"gan set: '{key}' cannot be changed while training; live keys: {LiveSettings.KeyList}");
        var value = parsed.Get("value") ?? throw new ControlCommandException($"gan set {key}: give the new value ({live.Description})");
        return new SetSetting(live.Name, value, parsed.Get("member") is { } member ? MemberId(member) : null);
    }

    /// <summary>A population change, or null to list the members.</summary>
    private static RunChange? ParsePopulation(IReadOnlyList<string> args)
    {
        var parsed = Parse(args, PopulationArguments);
        var overrides = PopulationArguments.Where(a => a.Kind == ArgumentKind.Option && parsed.Get(a.Name) is not null).ToArray();
        switch (parsed.Get("action") ?? "list")
        {
            case "list":
                if (parsed.Get("member") is not null || overrides.Length > 0) throw new ControlCommandException("gan population: list takes no arguments");
                return null;
            case "add":
                if (parsed.Get("member") is { } extra) throw new ControlCommandException($"gan population add: unexpected argument '{extra}' (the new member's id is chosen for it)");
                var member = new MemberOverrides();
                foreach (var option in overrides)
                {
                    var key = option.Name == "lr" ? "lr-d" : option.Name;
                    try
                    {
                        member = Cli.SettingKeys.MemberKeys[key](member, parsed.Get(option.Name)!);
                    }
                    catch (FormatException e)
                    {
                        throw new ControlCommandException($"gan population add --{option.Name}: {e.Message}");
                    }
                }
                return new AddDiscriminator(member);
            case "remove":
                if (overrides.Length > 0) throw new ControlCommandException("gan population remove: give only the member (d-N)");
                return new RemoveDiscriminator(MemberId(parsed.Get("member") ?? throw new ControlCommandException("gan population remove: give the member to remove (d-N)")));
            case var other:
                throw new ControlCommandException($"gan population: unknown action '{other}' (list, add, remove)");
        }
    }

    private static ControlArgs Parse(IReadOnlyList<string> args, ArgumentDescriptor[] arguments)
    {
        try
        {
            return ControlArgs.Parse(args, arguments);
        }
        catch (FormatException e)
        {
            throw new ControlCommandException(e.Message);
        }
    }

    private static int MemberId(string text)
    {
        try
        {
            return DiscriminatorId.Parse(text).Member;
        }
        catch (FormatException)
        {
            throw new ControlCommandException($"'{text}' is not a discriminator id (d-0, d-1, ...)");
        }
    }

    private List<string> LiveKeys()
    {
        lock (_gate)
        {
            var lines = new List<string> { $"{"key",-18} {"now",-12} description" };
            foreach (var key in LiveSettings.Keys)
                lines.Add($"{key.Name,-18} {Current(key.Name),-12} {key.Description}{(key.PerMember ? " (per member: --member d-N)" : "")}");
            return lines;
        }
    }

    private string Current(string key) => key switch
    {
        "lr-g" => SettingValues.Format(_settings.LrG),
        "lr-d" => SettingValues.Format(_settings.LrD),
        "n-critic" => _settings.NCritic.ToString(CultureInfo.InvariantCulture),
        "unroll" => _settings.Unroll.ToString(CultureInfo.InvariantCulture),
        "aggregate" => SettingValues.Kebab(_settings.Aggregate),
        "softmax-lambda" => SettingValues.Format(_settings.SoftmaxLambda),
        "subset-size" => _settings.SubsetSize.ToString(CultureInfo.InvariantCulture),
        "instance-noise" => SettingValues.Format(_settings.InstanceNoise),
        "gradient-penalty" => SettingValues.Format(_settings.GradientPenalty),
        "r1-gamma" => SettingValues.Format(_settings.R1Gamma),
        "l2-penalty" => SettingValues.Format(_settings.L2Penalty),
        "eval-every" => _settings.EvalEvery.ToString(CultureInfo.InvariantCulture),
        "checkpoint-every" => _settings.CheckpointEvery.ToString(CultureInfo.InvariantCulture),
        _ => "?",
    };

    private List<string> Population()
    {
        lock (_gate)
        {
            var lines = new List<string> { $"{"member",-8} {"loss",-15} {"lr-d",10} {"D loss",9} {"fitness",8}  node" };
            foreach (var i in _settings.ActiveMembers)
            {
                var id = DiscriminatorCore.EntityIdOf(i);
                var member = _settings.ForMember(i);
                var last = _round?.Discriminators.FirstOrDefault(d => d.Member == i);
                var fitness = _evaluation is not null && _evaluation.Fitness.TryGetValue(i, out var f) ? f.ToString("F3", CultureInfo.InvariantCulture) : "-";
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{id,-8} {SettingValues.Kebab(member.Loss),-15} {_learningRates.GetValueOrDefault(i, member.LrD),10:G4} {(last is null ? "-" : last.Loss.ToString("F4", CultureInfo.InvariantCulture)),9} {fitness,8}  {NodeOf(id)}"));
            }
            lines.Add($"{_settings.ActiveMembers.Length} discriminator(s), aggregate {SettingValues.Kebab(_settings.Aggregate)}{(_settings.EvolveEvery > 0 ? $", evolving every {_settings.EvolveEvery} rounds" : "")}");
            return lines;
        }
    }

    /// <summary>
    /// The raw signals of training health: for the generator and each member, the mean loss, score margin
    /// D(real) - D(fake) and gradient norm over the last rounds, and the generator's gradient norm against its early level
    /// (a collapse towards 0 is the sign of vanishing gradients), plus any non-finite value seen.
    /// </summary>
    private List<string> Health()
    {
        lock (_gate)
        {
            if (_recent.Count == 0) return ["no round completed yet"];
            var recent = _recent.ToArray();
            var diagnosis = new List<string>();
            if (_health is { } h)
            {
                diagnosis.Add($"diagnosis after round {h.Round}: {h.StatusName}: {h.Evidence}");
                foreach (var finding in h.Findings.Where(f => f.Status != h.Status))
                    diagnosis.Add($"  also {SettingValues.Kebab(finding.Status)}: {finding.Evidence}");
                var sig = h.Signals;
                diagnosis.Add(string.Create(CultureInfo.InvariantCulture,
                    $"signals over {sig.Rounds} rounds: D accuracy {sig.DAccuracy:F3}, logits real {sig.RealLogit:G3} / fake {sig.FakeLogit:G3}, " +
                    $"feedback |dL/dx_fake| {sig.FeedbackNorm:G3} (x{sig.FeedbackRatio:G3} its early level), G loss std {sig.GeneratorLossStd:G3}, " +
                    $"margin crossings {sig.MarginSignChanges:P0}, G drift {sig.Drift:P2}/round"));
                if (sig.EvalRound is { } evalRound)
                    diagnosis.Add($"evaluation of round {evalRound}: " + string.Join(", ", new[]
                        {
                            sig.ModesCaptured is { } mc ? $"modes {mc}/{sig.Modes}" : null,
                            sig.HighQuality is { } hq ? string.Create(CultureInfo.InvariantCulture, $"HQ {hq:P0}") : null,
                            sig.ClassEntropy is { } ce ? string.Create(CultureInfo.InvariantCulture, $"class entropy {ce:P0} of max") : null,
                            sig.PairwiseRatio is { } pr ? string.Create(CultureInfo.InvariantCulture, $"pairwise distance x{pr:F2} of real") : null,
                            sig.DuplicateShare is { } ds ? string.Create(CultureInfo.InvariantCulture, $"near-duplicates {ds:P1}") : null,
                        }.Where(x => x is not null)));
                diagnosis.Add(_settings.Health.AutoRemedy
                    ? $"auto-remedy on; applied: {(_remedies.Count == 0 ? "none yet" : string.Join("; ", _remedies))}"
                    : "auto-remedy off (train --auto-remedy, or akkagan.health.auto-remedy = on)");
            }
            else diagnosis.Add($"diagnosis: none yet (every {_settings.Health.Every} rounds)");
            string Stat(IEnumerable<double> values)
            {
                var v = values.ToArray();
                var mean = v.Average();
                var std = Math.Sqrt(v.Select(x => (x - mean) * (x - mean)).Average());
                return string.Create(CultureInfo.InvariantCulture, $"{mean,9:F4} ±{std,-8:F4}");
            }
            var lines = new List<string>(diagnosis)
            {
                $"rounds {recent[0].Round}-{recent[^1].Round} ({recent.Length}); non-finite values so far: {_nonFinite}",
                $"{"",-10} {"loss (mean ± std)",-19} {"D(real)-D(fake)",-19} {"grad norm",-19}",
                $"{"generator",-10} {Stat(recent.Select(r => r.GeneratorLoss))} {"",-19} {Stat(recent.Select(r => r.GeneratorGradientNorm))}",
            };
            foreach (var member in recent[^1].Discriminators.Select(d => d.Member))
            {
                var steps = recent.SelectMany(r => r.Discriminators.Where(d => d.Member == member)).ToArray();
                lines.Add($"{DiscriminatorCore.EntityIdOf(member),-10} {Stat(steps.Select(d => d.Loss))} {Stat(steps.Select(d => d.RealScore - d.FakeScore))} {Stat(steps.Select(d => d.GradientNorm))}");
            }
            var early = _early.Average(r => r.GeneratorGradientNorm);
            var now = recent.Average(r => r.GeneratorGradientNorm);
            if (early > 0 && recent[0].Round > _early[^1].Round)
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"generator gradient norm: {now:G3} now vs {early:G3} over rounds {_early[0].Round}-{_early[^1].Round} (x{now / early:F2})"));
            return lines;
        }
    }

    /// <summary>Members suspended and not recovered since (from the fault history).</summary>
    private List<string> Suspended()
        => [.. _faults.GroupBy(f => f.Entity).Where(g => g.Any(f => f.Event == "suspended") && g.Last(f => f.Event is "suspended" or "recovered").Event == "suspended").Select(g => g.Key).Order(StringComparer.Ordinal)];

    public void OnFault(FaultReport report)
    {
        lock (_gate) _faults.Add(report);
    }

    public void OnHealth(HealthReport report)
    {
        lock (_gate)
        {
            _health = report;
            if (report.Action is { } action) _remedies.Add($"round {report.Round}: {action.RemedyName} ({SettingValues.Kebab(action.Against)})");
        }
    }

    private string NodeOf(string entity) => _placement.GetValueOrDefault(entity, _engine == ReferenceTrainer.EngineName ? "this process" : "-");

    public void OnChange(ChangeReport report)
    {
        lock (_gate)
        {
            var before = _settings;
            _settings = report.Settings;
            foreach (var i in _settings.ActiveMembers)
                if (!_learningRates.ContainsKey(i) || before.ForMember(i).LrD != _settings.ForMember(i).LrD) _learningRates[i] = _settings.ForMember(i).LrD;
            foreach (var gone in _learningRates.Keys.Except(_settings.ActiveMembers).ToArray()) _learningRates.Remove(gone);
        }
    }

    public void OnPlaced(IReadOnlyDictionary<string, string> nodes)
    {
        lock (_gate)
        {
            foreach (var (entity, node) in nodes) _placement[entity] = node;
        }
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
        lock (_gate)
        {
            _round = report;
            _recent.Enqueue(report);
            if (_recent.Count > HealthWindow) _recent.Dequeue();
            if (_early.Count < HealthWindow) _early.Add(report);
            if (!double.IsFinite(report.GeneratorLoss) || !double.IsFinite(report.GeneratorGradientNorm)
                || report.Discriminators.Any(d => !double.IsFinite(d.Loss) || !double.IsFinite(d.GradientNorm))) _nonFinite++;
        }
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
        lock (_gate)
        {
            _evolutions++;
            if (report.Best != report.Worst) _learningRates[report.Worst] = report.NewLearningRate;
        }
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
                Suspended() is { Count: > 0 } suspended
                    ? $"faults     {_faults.Count}; left out: {string.Join(", ", suspended)} (restoring from the last checkpoint; quorum {_settings.Quorum})"
                    : $"faults     {_faults.Count}{(_faults.Count > 0 ? $", last: round {_faults[^1].Round} {_faults[^1].Entity} {_faults[^1].Event}" : "")}",
                $"{"member",-8} {"loss",10} {"penalty",10} {"D(real)",10} {"D(fake)",10} {"fitness",8}  node",
            };
            foreach (var d in _round?.Discriminators ?? [])
            {
                var fitness = _evaluation is not null && _evaluation.Fitness.TryGetValue(d.Member, out var f) ? f.ToString("F3", CultureInfo.InvariantCulture) : "-";
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{DiscriminatorCore.EntityIdOf(d.Member),-8} {d.Loss,10:F4} {d.Penalty,10:F4} {d.RealScore,10:F3} {d.FakeScore,10:F3} {fitness,8}  {NodeOf(DiscriminatorCore.EntityIdOf(d.Member))}"));
            }
            return lines;
        }
    }

    private static string SettingKeys<T>(T value) where T : struct, Enum => Cli.SettingKeys.Kebab(value);
}
