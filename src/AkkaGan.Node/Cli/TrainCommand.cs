using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using AkkaGan.Control;
using AkkaGan.Node.Control;
using AkkaGan.Cluster.Configuration;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Node.Output;
using Spectre.Console;
using AkkaGan.Core.Data;
using AkkaGan.Core.Evaluation;
using static TorchSharp.torch;

namespace AkkaGan.Node.Cli;

/// <summary><c>akkagan train</c>: a training run with progress, outputs and checkpoints.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var command = new Command("train", "Train a GAN. Defaults come from cluster.hocon (akkagan.train, overridden for ring8, grid25 and the image datasets by akkagan.dataset-defaults.<dataset>); every key there is also a flag below.");
        var engine = new Option<string>("--engine")
        {
            Description = "cluster: the actors on an embedded one-node Akka cluster | reference: the monolithic engine (same results, bit for bit)",
            HelpName = "NAME",
            DefaultValueFactory = _ => ClusterEngine.EngineName,
        };
        command.Options.Add(engine);
        var training = TrainingOptions.AddTo(command);
        var control = ControlHost.AddTo(command);
        command.SetAction(parse => Run(parse.GetValue(engine)!, training.Read(parse), control.Read(parse), ClusterEngine.Embedded));
        return command;
    }

    /// <summary>The options `akkagan train` and a coordinator `akkagan node` share: outputs, resume, config, settings.</summary>
    internal sealed class TrainingOptions
    {
        private readonly Option<string?> _output = new("--out") { Description = "Output folder (default: runs/<time>-<dataset>; with --resume: the resumed run's folder)", HelpName = "DIR" };
        private readonly Option<string?> _resume = new("--resume") { Description = "Continue from a checkpoint file, a checkpoints folder or a run folder (its newest checkpoint)", HelpName = "PATH" };
        private readonly Option<string?> _config = new("--config") { Description = "HOCON file layered over the built-in cluster.hocon", HelpName = "FILE" };
        private (SettingKeys.Key Key, Option<string?> Option)[] _settings = [];

        public static TrainingOptions AddTo(Command command)
        {
            var options = new TrainingOptions();
            command.Options.Add(options._output);
            command.Options.Add(options._resume);
            command.Options.Add(options._config);
            var defaults = SettingsLoader.LoadConfig(null);
            options._settings = [.. SettingKeys.All.Where(k => k.HasFlag).Select(k => (Key: k, Option: new Option<string?>(k.Flag)
            {
                Description = $"{k.Description} [cluster.hocon: {SettingsLoader.DefaultText(defaults, k)}]",
                HelpName = k.HelpName,
                Arity = k.HelpName.StartsWith('[') ? ArgumentArity.ZeroOrOne : ArgumentArity.ExactlyOne,
            }))];
            foreach (var (_, option) in options._settings) command.Options.Add(option);
            return options;
        }

        public TrainingArguments Read(ParseResult parse) => new(parse.GetValue(_output), parse.GetValue(_resume), parse.GetValue(_config),
            [.. _settings.Where(o => parse.GetResult(o.Option) is { Implicit: false }).Select(o => (o.Key, parse.GetValue(o.Option) ?? ""))]);
    }

    /// <summary>What an engine runs: the settings and data, the checkpoint it resumes from, who hears of it, where checkpoints go.</summary>
    /// <param name="Status">State lines before training starts (waiting for members).</param>
    /// <param name="Started">Called once the engine can train, just before the first round (throughput is measured from here).</param>
    /// <param name="StartControl">Starts the control host with the engine's own palettes besides gan.</param>
    internal sealed record RunInputs(TrainingSettings Settings, IRealData Data, Checkpoint? Resume, ITrainingObserver Observer, CheckpointStore Checkpoints,
        Action<string> Status, Action Started, Func<IControlPalette[], ControlServer?> StartControl);

    /// <param name="Flags">The setting flags given on the command line, in order.</param>
    internal sealed record TrainingArguments(string? Output, string? Resume, string? ConfigFile, IReadOnlyList<(SettingKeys.Key Key, string Value)> Flags);

    /// <summary>Runs one training to its end on <paramref name="engine"/>; the cluster engine on the node <paramref name="topology"/> describes.</summary>
    internal static int Run(string engine, TrainingArguments arguments, NodeFlags nodeFlags, ClusterEngine.Topology topology)
    {
        var (output, resume, configFile, flags) = arguments;
        if (engine != ReferenceTrainer.EngineName && engine != ClusterEngine.EngineName)
            throw new SettingsException($"--engine: unknown value '{engine}' (valid: reference, cluster)");

        // Settings: cluster.hocon <- its dataset-defaults for the dataset <- --config <- (checkpoint's settings when
        // resuming) <- flags.
        (string Path, Checkpoint Checkpoint)? resumed = resume is null ? null : CheckpointStore.Resolve(resume);
        var (config, settings) = SettingsLoader.Resolve(configFile, resumed?.Checkpoint.Metadata.SettingsJson, flags);

        var outDir = output
            ?? (resumed is { } r ? RunFolderOf(r.Path) : Path.Combine("runs", $"{DateTime.Now:yyyyMMdd-HHmmss}-{SettingValues.Kebab(settings.Dataset)}"));
        // The node's own settings; the cluster engine's state store (akkagan.persistence) is the run's state.db unless configured otherwise.
        var node = NodeSettings.Bind(config, nodeFlags, $"akkagan train ({engine}) on {Environment.MachineName}", engine == ClusterEngine.EngineName ? outDir : null);
        ControlHost.Warn(node);
        var store = engine == ClusterEngine.EngineName ? node.Store : null;
        store = store?.ForRun(store.RunId.Length > 0 ? store.RunId : StateStore.NewRunId(outDir));
        node = node with { Store = store };
        var controlOptions = node.Control;
        // A port this run was told to use and another process holds is an error before anything is written.
        Runtime.AkkaPort.EnsureFree(node, nodeFlags);
        Directory.CreateDirectory(outDir);
        set_num_threads(RunData.TorchThreads(settings));
        var device = RunData.ResolveDevice(settings.Device);
        var data = RunData.Create(settings, Console.WriteLine);
        // A points file's dimension and an image folder's channels become settings every node (and every checkpoint) shares.
        settings = RunData.Resolve(settings, data);

        using var outputs = new RunOutputs(outDir, settings, data, engine);
        var progress = new ConsoleProgress(settings.Rounds, () => outputs.RoundsPerSecond);
        // The engine's controls: the reference engine's loop reads a RunControl between steps, the cluster engine's go to its coordinator.
        using var control = new RunControl();
        using var clusterSteering = new ClusterSteering();
        IRunEngine steering = engine == ClusterEngine.EngineName ? clusterSteering : control;
        var gan = new GanPalette(settings, engine, outDir, () => outputs.RoundsPerSecond, steering, (command, caller) =>
        {
            Console.Error.WriteLine($"control: '{command}' received from {caller}");
            outputs.OnControl(command, caller);
        });
        using var metrics = new RunMetrics(() => outputs.RoundsPerSecond);
        using var metricsExport = MetricsExport.Start(node.Metrics, "akkagan-train");
        var observer = new CompositeObserver(outputs, progress, gan, metrics, new Runtime.MemoryRelief.Observer());
        // The engine starts the control host once it can serve its palettes (the cluster palette needs the actor system);
        // it is closed here, after watchers have been told that the training ended.
        ControlServer? controlServer = null;
        Func<IControlPalette[], ControlServer?> startControl = extra => controlServer = ControlHost.TryStart(controlOptions, [gan, .. extra], nodeFlags.ControlPort is not null);
        var startRound = resumed?.Checkpoint.Metadata.Round ?? 0;
        if (resumed is { } res) Console.WriteLine($"resuming from {res.Path} at round {startRound}");
        if (topology.Standby)
            // A standby trains nothing of its own: on taking over, the run continues with the settings stored with its position.
            Console.WriteLine($"akkagan node --standby: stands by for run {store?.RunId}; when it takes over, the run continues with its stored settings -> {outDir}");
        else
            Console.WriteLine($"akkagan train: {SettingValues.Kebab(settings.Dataset)}, loss {SettingValues.Kebab(settings.Loss)}, unroll {settings.Unroll} ({SettingValues.Kebab(settings.UnrollOrder)} order), " +
                              $"{settings.Discriminators} discriminator(s), {settings.Rounds} rounds, batch {settings.Batch}, device {device.type}, engine {engine} -> {outDir}");
        if (store is not null) Console.WriteLine($"state store: {store.Describe()}, run id {store.RunId}");

        if (settings.HasClassifierMetrics)
        {
            // The image metrics need the evaluation classifier: load it now, or train it once (minutes) before the
            // first round rather than in the middle of the first evaluation.
            using var classifier = ClassifierCache.LoadOrTrain(settings.DataDir, ClassifierCache.ResolveDirectory(settings.ClassifierDir), new ClassifierRecipe(), Console.WriteLine);
        }

        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // First Ctrl-C: finish the round, then checkpoint and summarise. A second one ends the process at once.
            e.Cancel = !steering.Stopping.IsCancellationRequested;
            if (e.Cancel) Console.Error.WriteLine("stopping after this round (a final checkpoint and summary follow; Ctrl-C again to abort)");
            steering.Stop();
        };
        Console.CancelKeyPress += onCancel;
        // SIGTERM (docker stop, kubectl delete, systemd) gets the same clean stop as Ctrl-C.
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            steering.Stop();
        });
        try
        {
            var run = new RunInputs(settings, data, resumed?.Checkpoint, observer, new CheckpointStore(Path.Combine(outDir, "checkpoints"), settings.KeepCheckpoints),
                progress.Status, () => outputs.BeginAt(startRound), startControl);
            string? nothingTrained = null;
            var (round, completed, failure) = engine == ClusterEngine.EngineName
                ? RunCluster(run, progress, config, topology, node, gan, clusterSteering, out nothingTrained)
                : RunReference(run, progress, device, control);
            if (nothingTrained is not null)
            {
                // A standby whose run completed on the node that trained it: that node wrote the run's summary.
                Console.WriteLine($"akkagan: {nothingTrained}");
                return 0;
            }
            gan.Finished(round, completed); // the cluster engine has told the watchers already; a second call adds nothing
            var summary = outputs.WriteSummary(round, completed);
            if (completed && settings.RejectionSampling && outputs.LastCheckpoint is { } last)
                RejectionEvaluation.AddToSummary(summary, outDir, settings, data, last, Console.WriteLine);
            PrintSummary(summary, outDir);
            if (failure is not null)
            {
                Console.Error.WriteLine($"akkagan: error: training failed at round {round}: {failure}");
                return 1;
            }
            return completed ? 0 : 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            controlServer?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static (long Round, bool Completed, string? Failure) RunReference(RunInputs run, ConsoleProgress progress, Device device, RunControl control)
    {
        run.StartControl([]);
        using var trainer = new ReferenceTrainer(run.Settings, run.Data, device, run.Observer);
        if (run.Resume is not null) trainer.Restore(run.Resume);
        run.Started();
        string? diverged = null;
        progress.Run(trainer.Round, () =>
        {
            try
            {
                trainer.Run(run.Checkpoints, control, control.Stopping);
            }
            catch (TrainingDivergedException e)
            {
                diverged = e.Message;
            }
        });
        // A diverged state is never written: the checkpoints up to the last good round stay the newest. A stop has
        // evaluated and checkpointed its last round (the schedule's stop).
        return (trainer.Round, diverged is null && trainer.Round >= run.Settings.Rounds, diverged);
    }

    /// <param name="nothingTrained">Why this node trained nothing although the run completed (null: it trained).</param>
    private static (long Round, bool Completed, string? Failure) RunCluster(RunInputs run, ConsoleProgress progress, Akka.Configuration.Config config,
        ClusterEngine.Topology topology, NodeSettings node, GanPalette gan, ClusterSteering steering, out string? nothingTrained)
    {
        run.Resume?.EnsureWithin(run.Settings.Rounds);
        Cluster.Protocol.CoordinatorProtocol.TrainingFinished? finished = null;
        progress.Run(run.Resume?.Metadata.Round ?? 0, () => finished = ClusterEngine.RunAsync(config, topology, node, run, gan, steering).GetAwaiter().GetResult(),
            announce: !topology.Standby);
        var stopped = finished!.Reason == "stopped";
        nothingTrained = finished.NothingTrained ? finished.Reason : null;
        return (finished.Round, finished.Completed, finished.Completed || stopped ? null : finished.Reason);
    }

    private static string RunFolderOf(string checkpointPath)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(checkpointPath))!;
        return Path.GetFileName(folder) == "checkpoints" ? Path.GetDirectoryName(folder)! : folder;
    }

    private static readonly string[] SampleMetrics =
        ["modes_captured", "modes_covered", "modes", "high_quality_fraction", "reverse_kl", "sliced_wasserstein", "mmd", "precision", "recall", "density", "coverage", "kl_to_uniform", "fcd"];

    private static void PrintSummary(JsonObject summary, string outDir)
    {
        var table = new Table().Title("[bold]summary[/]").AddColumn("metric").AddColumn("value");
        var rejection = summary["rejection_sampling"] as JsonObject;
        if (rejection is not null) table.AddColumn("rejection sampling");
        string[] keys = ["rounds", .. SampleMetrics, "rounds_per_second", "wall_seconds", "generator_loss", "discriminator_loss", "evolutions", "last_checkpoint", "last_samples_png"];
        foreach (var key in keys)
            if (summary[key] is JsonValue value)
                table.AddRow(rejection is null ? [key, Cell(value)] : [key, Cell(value), SampleMetrics.Contains(key) && rejection[key] is JsonValue kept ? Cell(kept) : ""]);
        AnsiConsole.Write(table);
        if (rejection is not null)
            Console.WriteLine(rejection["error"] is JsonValue error
                ? $"rejection sampling failed: {error}"
                : string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"rejection sampling: {rejection["steps"]} steps, acceptance {rejection["acceptance_rate"]}, {rejection["seconds"]} s, {rejection["samples_png"]}"));
        static string Cell(JsonValue value) => Markup.Escape(value.TryGetValue<double>(out var number) && number % 1 != 0
            ? number.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)
            : value.ToJsonString().Trim('"'));
        // Below the table, whole: a long path in a cell would be wrapped mid-word on an 80-column terminal.
        Console.WriteLine($"outputs: {Path.GetFullPath(outDir)} (summary.json, metrics.jsonl, checkpoints/, samples/)");
    }
}
