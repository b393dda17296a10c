using System.Globalization;
using AkkaGan.Core.Health;
using static AkkaGan.Core.Settings.SettingValues;

namespace AkkaGan.Core.Settings;

/// <summary>
/// The one table of training settings. Each row is a key: its HOCON path under <c>akkagan</c> (the default lives in
/// <c>cluster.hocon</c>, a spec binds the two), its flag (<c>--name</c>, unless HOCON-only), help, how text is parsed onto
/// <see cref="TrainingSettings"/> and how the value reads back, whether it may change while training (<see cref="Key.Live"/>)
/// and whether a population member may override it (<see cref="Key.Member"/>). The HOCON binder, the command line,
/// <c>population.members</c>, the live changes of the control plane (<see cref="LiveSettings"/>) and <c>gan set</c>'s
/// listing all read this table: adding a key is one row here and one line in <c>cluster.hocon</c>.
/// </summary>
public static class SettingKeys
{
    /// <summary>A member's override of a key: sets it (<c>value</c>) or clears it (<c>null</c>), and reads it back (null: not overridden).</summary>
    public sealed record MemberKey(Func<MemberOverrides, string?, MemberOverrides> Set, Func<MemberOverrides, string?> Get);

    /// <summary>One setting: <paramref name="Path"/> relative to <c>akkagan</c>, e.g. <c>train.rounds</c>.</summary>
    public sealed record Key(string Path, string HelpName, string Description, Func<TrainingSettings, string, TrainingSettings> Apply,
        Func<TrainingSettings, string> Get)
    {
        /// <summary>The last part of the path: the flag's name, e.g. <c>rounds</c>.</summary>
        public string Name => Path[(Path.LastIndexOf('.') + 1)..];

        /// <summary>The command-line flag, <c>--name</c>.</summary>
        public string Flag => "--" + Name;

        /// <summary>Whether the key has a command-line flag (the health thresholds are HOCON only).</summary>
        public bool HasFlag { get; init; } = true;

        /// <summary>What a change while training touches (null: fixed for the run).</summary>
        public LiveScope? Live { get; init; }

        /// <summary>How a population member overrides the key (null: the run's value holds for every member).</summary>
        public MemberKey? Member { get; init; }

        /// <summary>Whether a population member may override the key.</summary>
        public bool PerMember => Member is not null;
    }

    /// <summary>Every key, in the order of the help and the documentation.</summary>
    public static readonly IReadOnlyList<Key> All =
    [
        new("train.dataset", "NAME", "Real data: ring8 | grid25 | spiral | fashion-mnist | stacked-fashion-mnist | points (your --data-file) | images (your --data-dir)", (s, v) => s with { Dataset = Enum<DatasetKind>(v) }, s => Kebab(s.Dataset)),
        new("train.data-dir", "DIR", "Folder with the Fashion-MNIST IDX files (gzip or raw), or of your PNG/JPEG images for dataset=images (searched recursively)", (s, v) => s with { DataDir = v }, s => s.DataDir),
        new("train.data-file", "FILE", "Your points for dataset=points: .csv (a point per line, an optional header) or .npy (a 2-D float32/float64 array)", (s, v) => s with { DataFile = v }, s => s.DataFile),
        new("train.image-size", "N", "Side of the images of dataset=images: 16, 28, 32, 56, 64, 112 or 128; each image is center-cropped to a square and scaled to it (up by at most 2x)", (s, v) => s with { ImageSize = Int(v) }, s => I(s.ImageSize)),
        new("train.channels", "N", "Channels of dataset=images: 1 (grayscale) or 3 (RGB); 0 takes them from the data (3 if any image has colour)", (s, v) => s with { Channels = Int(v) }, s => I(s.Channels)),
        new("train.data-shards", "N", "Data-parallel discriminators: split the data into N shards, member m trains on shard m mod N and a node loads only its members' shards; 0: every member sees all the data", (s, v) => s with { DataShards = Int(v) }, s => I(s.DataShards)),
        new("train.dimension", "N", "Dimension of the points of dataset=points; 0 takes it from the data file", (s, v) => s with { Dimension = Int(v) }, s => I(s.Dimension)),
        new("data-cache-dir", "DIR", "Cache of decoded image folders (dataset=images); empty: $AKKAGAN_DATA_CACHE, else ~/.cache/akkagan/images", (s, v) => s with { DataCacheDir = v }, s => s.DataCacheDir),
        new("classifier-dir", "DIR", "Cache of the evaluation classifier behind the image metrics; empty: $AKKAGAN_CLASSIFIER_DIR, else ~/.cache/akkagan/classifier", (s, v) => s with { ClassifierDir = v }, s => s.ClassifierDir),
        new("train.mixture-scale", "X", "Mixture radius (ring8 1, spiral 2) or grid spacing (grid25 2); empty keeps the protocol value", (s, v) => s with { MixtureScale = OptionalDouble(v) }, s => F(s.MixtureScale) ?? ""),
        new("train.mixture-std", "X", "Std of each mixture component (ring8 0.01, grid25 0.05, spiral 0.02); empty keeps the protocol value", (s, v) => s with { MixtureStd = OptionalDouble(v) }, s => F(s.MixtureStd) ?? ""),
        new("train.latent-dim", "N", "Dimension of the generator's input noise z", (s, v) => s with { LatentDim = Int(v) }, s => I(s.LatentDim)),
        new("train.hidden-units", "N", "Width of each hidden layer of the 2-D MLPs", (s, v) => s with { HiddenUnits = Int(v) }, s => I(s.HiddenUnits)),
        new("train.hidden-layers", "N", "Hidden layers of the 2-D MLPs", (s, v) => s with { HiddenLayers = Int(v) }, s => I(s.HiddenLayers)),
        new("train.loss", "NAME", "GAN loss pair: minimax | non-saturating | wasserstein | hinge | least-squares", (s, v) => s with { Loss = Enum<LossKind>(v) }, s => Kebab(s.Loss))
        {
            Live = LiveScope.Discriminators,
            Member = new((m, v) => m with { Loss = v is null ? null : Enum<LossKind>(v) }, m => m.Loss is { } x ? Kebab(x) : null),
        },
        new("train.pack", "M", "PacGAN packing: each discriminator judges M samples jointly (their coordinates or channels concatenated); 1: off", (s, v) => s with { Pack = Int(v) }, s => I(s.Pack)),
        new("train.spectral-norm", "[on|off]", "Spectral normalization of the discriminators: every weight divided by its largest singular value (one power iteration per step; a bare flag is on)",
            (s, v) => s with { SpectralNorm = Switch(v) }, s => s.SpectralNorm ? "on" : "off"),
        new("train.rejection-sampling", "[on|off]", "Discriminator rejection sampling of the final samples: after the last round a discriminator fitted to the generator rejects the samples unlike the data; the summary reports both (a bare flag is on)",
            (s, v) => s with { RejectionSampling = Switch(v) }, s => s.RejectionSampling ? "on" : "off"),
        new("train.rejection-steps", "N", "Optimizer steps that fit the rejection-sampling discriminator to the final generator", (s, v) => s with { RejectionSteps = Int(v) }, s => I(s.RejectionSteps)),
        new("train.rejection-percentile", "P", "Percentile of the burn-in's acceptance scores that rejection sampling keeps with probability 1/2, in (0, 100); higher keeps fewer and follows the density ratio more closely",
            (s, v) => s with { RejectionPercentile = Double(v) }, s => F(s.RejectionPercentile)),
        new("train.g-ema", "D", "Decay of a moving average of the generator's weights that evaluations, samples and exports use (e.g. 0.999); 0: off", (s, v) => s with { GeneratorEma = Double(v) }, s => F(s.GeneratorEma)),
        new("train.optimizer", "NAME", "Optimizer of both networks and of the lookahead: adam | sgd", (s, v) => s with { Optimizer = Enum<OptimizerKind>(v) }, s => Kebab(s.Optimizer)),
        new("train.lr-g", "X", "Generator learning rate", (s, v) => s with { LrG = Double(v) }, s => F(s.LrG)) { Live = LiveScope.Generator },
        new("train.lr-d", "X", "Discriminator learning rate (a change replaces an evolved member's rate too)", (s, v) => s with { LrD = Double(v) }, s => F(s.LrD))
        {
            Live = LiveScope.Discriminators,
            Member = new((m, v) => m with { LrD = v is null ? null : Double(v) }, m => F(m.LrD)),
        },
        new("train.beta1", "X", "Adam beta1", (s, v) => s with { Beta1 = Double(v) }, s => F(s.Beta1)),
        new("train.beta2", "X", "Adam beta2", (s, v) => s with { Beta2 = Double(v) }, s => F(s.Beta2)),
        new("train.lr-decay", "NAME", "none | linear: learning rates decay linearly to lr-final x base over the rounds", (s, v) => s with { LrDecay = Enum<LrDecay>(v) }, s => Kebab(s.LrDecay)),
        new("train.lr-final", "F", "Fraction of the base learning rates reached at the last round with lr-decay=linear", (s, v) => s with { LrFinal = Double(v) }, s => F(s.LrFinal)),
        new("train.clip", "C", "WGAN weight clipping to [-C, C] after each D step (0 = off)", (s, v) => s with { ClipValue = Double(v) }, s => F(s.ClipValue))
        {
            Member = new((m, v) => m with { Clip = v is null ? null : Double(v) }, m => F(m.Clip)),
        },
        new("train.gradient-penalty", "LAMBDA", "WGAN-GP gradient penalty weight (0 = off)", (s, v) => s with { GradientPenalty = Double(v) }, s => F(s.GradientPenalty))
        {
            Live = LiveScope.Discriminators,
            Member = new((m, v) => m with { GradientPenalty = v is null ? null : Double(v) }, m => F(m.GradientPenalty)),
        },
        new("train.r1-gamma", "GAMMA", "R1 penalty weight on real data (0 = off)", (s, v) => s with { R1Gamma = Double(v) }, s => F(s.R1Gamma))
        {
            Live = LiveScope.Discriminators,
            Member = new((m, v) => m with { R1Gamma = v is null ? null : Double(v) }, m => F(m.R1Gamma)),
        },
        new("train.instance-noise", "STD", "Instance noise std on every D input (0 = off)", (s, v) => s with { InstanceNoise = Double(v) }, s => F(s.InstanceNoise))
        {
            Live = LiveScope.Discriminators,
            Member = new((m, v) => m with { InstanceNoise = v is null ? null : Double(v) }, m => F(m.InstanceNoise)),
        },
        new("train.instance-noise-anneal", "ROUNDS", "Rounds over which instance noise decays linearly to 0 (0 = constant)", (s, v) => s with { InstanceNoiseAnneal = Int(v) }, s => I(s.InstanceNoiseAnneal)),
        new("train.l2-penalty", "MU", "L2 weight penalty on the discriminator (0 = off)", (s, v) => s with { L2Penalty = Double(v) }, s => F(s.L2Penalty))
        {
            Live = LiveScope.Discriminators,
            Member = new((m, v) => m with { L2Penalty = v is null ? null : Double(v) }, m => F(m.L2Penalty)),
        },
        new("train.unroll", "K", "Unrolled lookahead steps of each discriminator in the generator step (0 = plain GAN)", (s, v) => s with { Unroll = Int(v) }, s => I(s.Unroll)) { Live = LiveScope.Discriminators },
        new("train.unroll-order", "ORDER", "first | second: whether G's gradient flows through the K lookahead updates", (s, v) => s with { UnrollOrder = Enum<UnrollOrder>(v) }, s => Kebab(s.UnrollOrder)),
        new("train.discriminators", "N", "Size of the discriminator population", (s, v) => s with { Discriminators = Int(v) }, s => I(s.Discriminators)),
        new("train.aggregate", "NAME", "How G combines the population's gradients: mean | softmax | max | subset", (s, v) => s with { Aggregate = Enum<AggregationKind>(v) }, s => Kebab(s.Aggregate))
        {
            Live = LiveScope.Generator | LiveScope.Schedule,
        },
        new("train.softmax-lambda", "X", "GMAN softmax temperature lambda (0 = mean, large = max)", (s, v) => s with { SoftmaxLambda = Double(v) }, s => F(s.SoftmaxLambda)) { Live = LiveScope.Generator },
        new("train.subset-size", "K", "Members drawn per generator step with aggregate=subset", (s, v) => s with { SubsetSize = Int(v) }, s => I(s.SubsetSize)) { Live = LiveScope.Schedule },
        new("population.members", "SPEC", "Heterogeneous population: per-member overrides, members separated by ';', e.g. " +
            "'loss=hinge,lr-d=5e-4;loss=least-squares,r1-gamma=1' (d-0, d-1; keys: loss, lr-d, clip, gradient-penalty, r1-gamma, instance-noise, l2-penalty)",
            (s, v) => s with { Members = ParseMembers(v) }, s => FormatMembers(s.Members)),
        new("train.evolve-every", "ROUNDS", "Population evolution interval: worst D takes the best's weights (0 = off)", (s, v) => s with { EvolveEvery = Int(v) }, s => I(s.EvolveEvery)),
        new("train.lr-perturbation", "P", "Evolved D's learning rate is the best's times (1 - P) or (1 + P)", (s, v) => s with { LrPerturbation = Double(v) }, s => F(s.LrPerturbation)) { Live = LiveScope.Schedule },
        new("train.quorum", "N", "Cluster engine: discriminators a round needs; members lost with a node are left out and restored from the last checkpoint, below N the coordinator waits", (s, v) => s with { Quorum = Int(v) }, s => I(s.Quorum)),
        new("recovery", "MODE", "Cluster engine, a discriminator that misses a round: fast (the others train on, it is restored alone and loses what it learned since its kept state) | exact (the run rolls back to the last checkpoint and replays: the result equals an uninterrupted run's)",
            (s, v) => s with { Recovery = Enum<RecoveryMode>(v) }, s => Kebab(s.Recovery)),
        new("train.max-rollbacks", "N", "Divergence guard: roll-backs to the last checkpoint (NaN/Inf or exploding gradients) before the run stops; 0 = off", (s, v) => s with { MaxRollbacks = Int(v) }, s => I(s.MaxRollbacks)),
        new("train.rollback-lr-factor", "F", "Every learning rate is multiplied by F after a roll-back", (s, v) => s with { RollbackLrFactor = Double(v) }, s => F(s.RollbackLrFactor)),
        new("train.grad-norm-limit", "X", "A gradient norm above X times its median over the last 100 rounds counts as divergence (0 = only NaN/Inf)", (s, v) => s with { GradNormLimit = Double(v) }, s => F(s.GradNormLimit)),
        new("train.n-critic", "N", "Discriminator steps per round (a round = n-critic D steps + 1 G step)", (s, v) => s with { NCritic = Int(v) }, s => I(s.NCritic)) { Live = LiveScope.Schedule },
        new("train.rounds", "N", "Rounds to train", (s, v) => s with { Rounds = Int(v) }, s => I(s.Rounds)),
        new("train.batch", "N", "Batch size of every D and G step", (s, v) => s with { Batch = Int(v) }, s => I(s.Batch)),
        new("train.seed", "N", "Base seed; every random draw derives from it, the round and the role", (s, v) => s with { Seed = Long(v) }, s => s.Seed.ToString(CultureInfo.InvariantCulture)),
        new("train.eval-every", "ROUNDS", "Evaluation (metrics, plots, TensorBoard) interval", (s, v) => s with { EvalEvery = Int(v) }, s => I(s.EvalEvery)) { Live = LiveScope.Schedule },
        new("train.eval-samples", "N", "Generated samples per evaluation (2500 is the VEEGAN/PacGAN protocol; Stacked-MNIST's is 26000)", (s, v) => s with { EvalSamples = Int(v) }, s => I(s.EvalSamples)),
        new("train.checkpoint-every", "ROUNDS", "Checkpoint interval", (s, v) => s with { CheckpointEvery = Int(v) }, s => I(s.CheckpointEvery)) { Live = LiveScope.Schedule },
        new("train.wire-dtype", "NAME", "Element type of a round's tensors between G and the discriminators: float32 (lossless) | float16 | bfloat16 (half the bytes, rounded; the reference engine rounds alike)",
            (s, v) => s with { WireDType = Enum<WireFormat>(v) }, s => Kebab(s.WireDType)),
        new("train.keep-checkpoints", "N", "Newest checkpoints kept in <out>/checkpoints", (s, v) => s with { KeepCheckpoints = Int(v) }, s => I(s.KeepCheckpoints)),
        new("device", "NAME", "auto | cpu | cuda (cuda needs the -p:TorchBackend=cuda build)", (s, v) => s with { Device = Enum<DeviceKind>(v) }, s => Kebab(s.Device)),
        new("torch-threads", "N", "Torch intra-op threads (0 = auto: 1 for the 2-D MLPs, all cores for images)", (s, v) => s with { TorchThreads = Int(v) }, s => I(s.TorchThreads)),
        .. HealthKeys.All,
    ];

    /// <summary>The keys a population member may override (<c>population.members</c>), by name.</summary>
    public static IReadOnlyDictionary<string, MemberKey> MemberKeys { get; } = All.Where(k => k.Member is not null).ToDictionary(k => k.Name, k => k.Member!);

    /// <summary>The key at <paramref name="path"/> (relative to <c>akkagan</c>).</summary>
    public static Key At(string path) => All.FirstOrDefault(k => k.Path == path) ?? throw new ArgumentException($"no setting key at akkagan.{path}", nameof(path));

    /// <summary>
    /// Parses <c>key=value,key=value;...</c> (one group per member, in member order; an empty group keeps the run's
    /// values for that member). The HOCON list of objects is turned into this form by the binder.
    /// </summary>
    public static IReadOnlyList<MemberOverrides> ParseMembers(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) return [];
        var members = new List<MemberOverrides>();
        foreach (var (group, index) in spec.Split(';').Select((g, i) => (g, i)))
        {
            var member = new MemberOverrides();
            foreach (var pair in group.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                var key = eq < 0 ? pair : pair[..eq].Trim();
                if (eq < 0) throw new FormatException($"member {index}: '{pair}' is not key=value");
                if (!MemberKeys.TryGetValue(key, out var apply))
                    throw new FormatException($"member {index}: unknown key '{key}' (valid: {string.Join(", ", MemberKeys.Keys)})");
                try
                {
                    member = apply.Set(member, pair[(eq + 1)..].Trim());
                }
                catch (FormatException e)
                {
                    throw new FormatException($"member {index}, {key}: {e.Message}");
                }
            }
            members.Add(member);
        }
        return members;
    }

    /// <summary>The <c>population.members</c> text of <paramref name="members"/> (what <see cref="ParseMembers"/> reads).</summary>
    public static string FormatMembers(IReadOnlyList<MemberOverrides> members)
        => string.Join(";", members.Select(m => string.Join(",", MemberKeys.Where(k => k.Value.Get(m) is not null).Select(k => $"{k.Key}={k.Value.Get(m)}"))));

    /// <summary>Applies one value; wraps parse errors into a message naming <paramref name="source"/> (a flag or a HOCON key).</summary>
    public static TrainingSettings Apply(Key key, TrainingSettings settings, string value, string source)
    {
        try
        {
            return key.Apply(settings, value.Trim());
        }
        catch (FormatException e)
        {
            throw new SettingsException($"{source}: {e.Message}");
        }
    }

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string F(double value) => Format(value);

    private static string? F(double? value) => value is { } x ? Format(x) : null;

    /// <summary>
    /// The thresholds and remedies of <c>akkagan.health</c> (documented in cluster.hocon): HOCON only, except
    /// <c>--auto-remedy</c>.
    /// </summary>
    private static class HealthKeys
    {
        private static Key H(string path, Func<HealthSettings, string, HealthSettings> apply, Func<HealthSettings, string> get, string description)
            => new("health." + path, "X", description, (s, v) => s with { Health = apply(s.Health, v) }, s => get(s.Health)) { HasFlag = false };

        private static IReadOnlyList<Remedy> Remedies(string text)
            => [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Enum<Remedy>)];

        private static string Names(IReadOnlyList<Remedy> remedies) => string.Join(",", remedies.Select(r => Kebab(r)));

        public static readonly Key[] All =
        [
            new("health.auto-remedy", "[on|off]", "Apply the remedies of akkagan.health when a diagnosis holds: vanishing gradients, mode collapse, non-convergence (a bare flag is on)",
                (s, v) => s with { Health = s.Health with { AutoRemedy = Switch(v) } }, s => s.Health.AutoRemedy ? "on" : "off"),
            H("every", (h, v) => h with { Every = Int(v) }, h => I(h.Every), "rounds between diagnoses"),
            H("window", (h, v) => h with { Window = Int(v) }, h => I(h.Window), "rounds the windowed signals cover"),
            H("warmup", (h, v) => h with { Warmup = Int(v) }, h => I(h.Warmup), "no vanishing-gradients or mode-collapse diagnosis before this round"),
            H("baseline-rounds", (h, v) => h with { BaselineRounds = Int(v) }, h => I(h.BaselineRounds), "rounds of the generator's early feedback level"),
            H("vanishing-gradients.d-accuracy", (h, v) => h with { VanishingAccuracy = Double(v) }, h => F(h.VanishingAccuracy), "discriminator accuracy above which gradients vanish"),
            H("vanishing-gradients.feedback-ratio", (h, v) => h with { VanishingFeedbackRatio = Double(v) }, h => F(h.VanishingFeedbackRatio), "feedback below this share of its early level"),
            H("mode-collapse.modes-fraction", (h, v) => h with { CollapseModesFraction = Double(v) }, h => F(h.CollapseModesFraction), "2-D data: modes captured / modes below this"),
            H("mode-collapse.class-entropy", (h, v) => h with { CollapseClassEntropy = Double(v) }, h => F(h.CollapseClassEntropy), "images: class-histogram entropy / its maximum below this"),
            H("mode-collapse.pairwise-ratio", (h, v) => h with { CollapsePairwiseRatio = Double(v) }, h => F(h.CollapsePairwiseRatio), "mean pairwise distance / the real data's below this"),
            H("mode-collapse.duplicate-share", (h, v) => h with { CollapseDuplicateShare = Double(v) }, h => F(h.CollapseDuplicateShare), "share of near-duplicate pairs above this"),
            H("non-convergence.loss-std", (h, v) => h with { OscillationLossStd = Double(v) }, h => F(h.OscillationLossStd), "generator loss std over the window above this"),
            H("non-convergence.drift", (h, v) => h with { OscillationDrift = Double(v) }, h => F(h.OscillationDrift), "mean relative weight change per round above this"),
            H("remedies.cooldown", (h, v) => h with { Cooldown = Int(v) }, h => I(h.Cooldown), "rounds after a remedy before the next"),
            H("remedies.max-per-remedy", (h, v) => h with { MaxPerRemedy = Int(v) }, h => I(h.MaxPerRemedy), "times each remedy may be applied"),
            H("remedies.vanishing-gradients", (h, v) => h with { VanishingRemedies = Remedies(v) }, h => Names(h.VanishingRemedies), "remedies of vanishing gradients, in order"),
            H("remedies.mode-collapse", (h, v) => h with { CollapseRemedies = Remedies(v) }, h => Names(h.CollapseRemedies), "remedies of mode collapse, in order"),
            H("remedies.non-convergence", (h, v) => h with { NonConvergenceRemedies = Remedies(v) }, h => Names(h.NonConvergenceRemedies), "remedies of non-convergence, in order"),
            H("remedies.noise-step", (h, v) => h with { NoiseStep = Double(v) }, h => F(h.NoiseStep), "instance-noise: the std added"),
            H("remedies.unroll-step", (h, v) => h with { UnrollStep = Int(v) }, h => I(h.UnrollStep), "more-unroll: steps added"),
            H("remedies.max-unroll", (h, v) => h with { MaxUnroll = Int(v) }, h => I(h.MaxUnroll), "more-unroll: the most steps"),
            H("remedies.r1-gamma", (h, v) => h with { R1Gamma = Double(v) }, h => F(h.R1Gamma), "more-r1: the weight when R1 is off"),
            H("remedies.lr-factor", (h, v) => h with { LrFactor = Double(v) }, h => F(h.LrFactor), "lower-lr: every learning rate times this"),
            H("remedies.max-discriminators", (h, v) => h with { MaxDiscriminators = Int(v) }, h => I(h.MaxDiscriminators), "add-discriminator: the largest population"),
        ];
    }
}
