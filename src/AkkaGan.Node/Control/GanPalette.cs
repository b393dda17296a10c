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
/// throughput), <c>watch</c> (a line per evaluation and per fault until the client leaves or the training ends), <c>pause</c>,
/// <c>resume</c>, <c>checkpoint</c> (written after the current round; answers with its path) and <c>stop</c> (the
/// clean stop of Ctrl-C: finish the round, evaluate, checkpoint, summarise). Changes are recorded. It observes the run like the progress
/// display does, so it answers from the node's own view without asking the actors.
/// </summary>
internal sealed partial class GanPalette : IControlPalette, ITrainingObserver
{
    /// <summary>Rounds the <c>health</c> window covers (and the early baseline it compares with).</summary>
    internal const int HealthWindow = 50;
    private TrainingSettings _settings;
    private readonly string _engine;
    private readonly Func<double> _roundsPerSecond;
    private readonly Action<string, string> _record;
    private readonly IRunEngine _steering;
    private TaskCompletionSource<(long Round, string Path)>? _nextCheckpoint;
    private readonly Lock _gate = new();
    private readonly List<Channel<string>> _watchers = [];
    private readonly string _runFolder;
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
    private readonly MissingEntities _missing = new();
    private HealthReport? _health;
    private readonly List<string> _remedies = [];

    /// <param name="runFolder">The run's output folder: <c>gan sample --out</c> writes only inside it.</param>
    /// <param name="record">Records a command that changes the run (metrics.jsonl and the console): the command, and who gave it.</param>
    /// <param name="steering">The running engine's controls (pause, resume, checkpoint, changes, samples, stop).</param>
    public GanPalette(TrainingSettings settings, string engine, string runFolder, Func<double> roundsPerSecond, IRunEngine steering, Action<string, string> record)
    {
        _runFolder = Path.GetFullPath(runFolder);
        _steering = steering;
        _record = record;
        _settings = settings;
        foreach (var i in settings.ActiveMembers) _learningRates[i] = settings.ForMember(i).LrD;
        _engine = engine;
        _roundsPerSecond = roundsPerSecond;
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
        new("out", "file to write in the run's folder on the node that trains: .csv (one sample per row) or .png (scatter over the modes, or an image grid)",
            Required: false, ArgumentKind.Option),
    ];

    public PaletteDescriptor Descriptor => Described;

    /// <summary>The palette's commands, which the other nodes of a cluster also offer (forwarded to this node).</summary>
    public static PaletteDescriptor Described { get; } = new("gan", "The training this cluster runs",
    [
        new("status", "Round, phase, losses per discriminator, last metrics and throughput", [], ReadOnly: true),
        new("watch", "A line per evaluation and per fault (who is missing, what the run waits for) until you press Ctrl-C or the training ends", [], ReadOnly: true),
        new("pause", "Finish the current round, then wait (gan resume continues, gan stop stops)", []),
        new("resume", "Continue a paused training", []),
        new("checkpoint", "Write a checkpoint after the current round and print where", []),
        new("sample", "Samples from the generator as it is now: -n N (default 1000) and --out FILE (.csv or .png, written in the run's folder by the node that " +
                      "trains); without --out, the first rows",
            SampleArguments),
        new("set", $"Change a hyper-parameter from the next round: KEY VALUE [--member d-N] (keys: {LiveSettings.KeyList})", SetArguments),
        new("population", "The discriminators (loss, learning rate, node, last loss, fitness); 'add [--loss L] [--lr X] [...]' grows it, " +
                          "'remove d-N' shrinks it, from the next round", PopulationArguments),
        new("health", $"The training-health diagnosis with its evidence and remedies, then losses, score margins and gradient norms over the last {HealthWindow} rounds", [], ReadOnly: true),
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
            Runtime.MemoryRelief.Request();
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
                _steering.Stop();
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
        var full = output is null ? null : InRunFolder(output);

        var batch = await _steering.RequestSamples(count).WaitAsync(TimeSpan.FromMinutes(5), ct).ConfigureAwait(false);
        var width = (int)batch.Shape.Aggregate(1L, (a, b) => a * b);
        if (full is null)
        {
            foreach (var row in Enumerable.Range(0, Math.Min(10, batch.Count)))
                yield return string.Join(",", batch.Samples.Skip(row * width).Take(Math.Min(width, 8)).Select(v => v.ToString("G5", CultureInfo.InvariantCulture)))
                             + (width > 8 ? $",... ({width} values)" : "");
            yield return $"{batch.Count} samples of shape [{string.Join(", ", batch.Shape)}] (first {Math.Min(10, batch.Count)} shown; --out FILE writes them all)";
            yield break;
        }
        if (extension == ".png" && !Output.Plots.CanDraw(batch.Shape))
            throw new ControlCommandException($"--out {output}: a .png shows 2-D points or images; these samples have shape [{string.Join(", ", batch.Shape)}] (write .csv)");
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        if (extension == ".csv")
        {
            await using var writer = new StreamWriter(full);
            for (var row = 0; row < batch.Count; row++)
                await writer.WriteLineAsync(string.Join(",", batch.Samples.Skip(row * width).Take(width).Select(v => v.ToString("R", CultureInfo.InvariantCulture)))).ConfigureAwait(false);
        }
        else
        {
            Output.Plots.Samples(full, batch.Samples, batch.Count, batch.Shape, Core.Data.GaussianMixture.For(_settings), null,
                $"akkagan-ctl gan sample, round {_round?.Round ?? 0}");
        }
        yield return $"wrote {batch.Count} samples to {full}";
    }

    /// <summary>
    /// Where <c>--out <paramref name="output"/></c> writes: relative to the run's folder, and refused (naming the
    /// folder) when it leads out of it, by <c>..</c>, an absolute path or a symbolic link inside, so a control client
    /// cannot make the node write wherever its process may.
    /// </summary>
    private string InRunFolder(string output)
    {
        var full = Path.GetFullPath(output, _runFolder);
        var inside = full.StartsWith(_runFolder + Path.DirectorySeparatorChar, StringComparison.Ordinal);
        for (var at = full; inside && at.Length > _runFolder.Length; at = Path.GetDirectoryName(at)!)
            if (new FileInfo(at).LinkTarget is not null)
                inside = false;
        return inside
            ? full
            : throw new ControlCommandException($"--out {output}: samples are written only inside the run's folder {_runFolder}; give a path relative to it (e.g. samples.png)");
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
                        member = SettingKeys.MemberKeys[key].Set(member, parsed.Get(option.Name)!);
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
}
