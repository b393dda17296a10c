using System.Globalization;
using AkkaGan.Core.Health;

namespace AkkaGan.Core.Settings;

/// <summary>
/// Every setting of a training run, in one typed object. The initial values mirror <c>cluster.hocon</c>, which owns
/// the defaults a user gets. Defaults live in <c>cluster.hocon</c> (the <c>akkagan</c>
/// section); hosts bind that file, then flags, onto this record and call <see cref="Validate"/> before the first round.
/// </summary>
public sealed record TrainingSettings
{
    /// <summary>The real data (key <c>train.dataset</c>).</summary>
    public DatasetKind Dataset { get; init; } = DatasetKind.Ring8;
    /// <summary>Folder of the Fashion-MNIST IDX files, gzip or raw, or of the images of dataset=images (key <c>train.data-dir</c>).</summary>
    public string DataDir { get; init; } = "/usr/share/datasets/fashion-mnist";
    /// <summary>The points file of dataset=points, <c>.csv</c> or <c>.npy</c> (key <c>train.data-file</c>).</summary>
    public string DataFile { get; init; } = "";
    /// <summary>Side of the square images of dataset=images (key <c>train.image-size</c>); see <see cref="ImageSizes"/>.</summary>
    public int ImageSize { get; init; } = 28;
    /// <summary>Channels of dataset=images, 1 or 3; 0 until the run takes them from the data (key <c>train.channels</c>).</summary>
    public int Channels { get; init; }
    /// <summary>Dimension of a point of dataset=points; 0 until the run takes it from the file (key <c>train.dimension</c>).</summary>
    public int Dimension { get; init; }

    /// <summary>
    /// Data-parallel discriminators (key <c>train.data-shards</c>): with N of 2 or more, the training data is split into N
    /// disjoint shards and member m trains on shard m mod N only; a discriminator node loads only its members' shards.
    /// 0 or 1: every member sees all the data.
    /// </summary>
    public int DataShards { get; init; }

    /// <summary>
    /// The shard a data factory is asked for (-1: the whole dataset). Set by the engine per member
    /// (<see cref="ForDataShard"/>), never configured, never serialized.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int DataShard { get; init; } = -1;

    /// <summary>The shard member <paramref name="member"/> trains on, or -1 without sharding.</summary>
    public int ShardOf(int member) => DataShards > 1 ? member % DataShards : -1;

    /// <summary>These settings asking the data factory for member <paramref name="member"/>'s shard (or all the data).</summary>
    public TrainingSettings ForDataShard(int member) => this with { DataShard = ShardOf(member) };

    /// <summary>The image sizes the DCGANs are built for: 4 or 7 pixels doubled two or more times.</summary>
    public static readonly IReadOnlyList<int> ImageSizes = [16, 28, 32, 56, 64, 112, 128];
    /// <summary>Folder of the cached evaluation classifier (image datasets); empty: AKKAGAN_CLASSIFIER_DIR or ~/.cache/akkagan/classifier.</summary>
    public string ClassifierDir { get; init; } = "";
    /// <summary>Folder of the decoded-image cache of dataset=images; empty: AKKAGAN_DATA_CACHE or ~/.cache/akkagan/images.</summary>
    public string DataCacheDir { get; init; } = "";
    /// <summary>Overrides the mixture's radius (ring8: 1, spiral: 2) or grid spacing (grid25: 2). Null keeps the protocol value.</summary>
    public double? MixtureScale { get; init; }
    /// <summary>Overrides the std of each mixture component (ring8 0.01, grid25 0.05, spiral 0.02). Null keeps the protocol value.</summary>
    public double? MixtureStd { get; init; }

    /// <summary>Dimension of the generator's input noise z.</summary>
    public int LatentDim { get; init; } = 256;
    /// <summary>Width of each hidden layer of the 2-D MLPs.</summary>
    public int HiddenUnits { get; init; } = 128;
    /// <summary>Hidden layers of the 2-D MLPs.</summary>
    public int HiddenLayers { get; init; } = 2;

    /// <summary>The loss pair of the discriminators (each member may override it) and of the generator's feedback.</summary>
    public LossKind Loss { get; init; } = LossKind.NonSaturating;
    /// <summary>The optimizer of both networks and of the lookahead.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;
    /// <summary>The generator's base learning rate.</summary>
    public double LrG { get; init; } = 2e-3;
    /// <summary>The discriminators' base learning rate (a member may override it).</summary>
    public double LrD { get; init; } = 1e-3;
    /// <summary>Adam's beta1.</summary>
    public double Beta1 { get; init; } = 0.5;
    /// <summary>Adam's beta2.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>none, or linear: every learning rate decays linearly to <see cref="LrFinal"/> x base over the rounds.</summary>
    public LrDecay LrDecay { get; init; } = LrDecay.Linear;
    /// <summary>Fraction of the base learning rate reached at the last round with lr-decay=linear.</summary>
    public double LrFinal { get; init; }

    /// <summary>The learning-rate multiplier for a round (1-based) under <see cref="LrDecay"/>.</summary>
    public double LrScale(long round) => LrDecay == LrDecay.None
        ? 1.0
        : 1.0 - (1.0 - LrFinal) * Math.Clamp((double)(round - 1) / Math.Max(1, Rounds - 1), 0, 1);

    /// <summary>
    /// Decay d of the exponential moving average of the generator's weights that evaluations, samples and exports use
    /// (key <c>train.g-ema</c>; e.g. 0.999); 0 = off (the trained weights themselves).
    /// </summary>
    public double GeneratorEma { get; init; }

    /// <summary>
    /// PacGAN packing (key <c>train.pack</c>): every discriminator judges this many samples jointly per logit, real with
    /// real and fake with fake; 1 = off. The batch must be a multiple of it.
    /// </summary>
    public int Pack { get; init; } = 1;

    /// <summary>
    /// Spectral normalization of every discriminator's weights (key <c>train.spectral-norm</c>; Miyato et al. 2018):
    /// each layer's weight is divided by its largest singular value, estimated by one power iteration per step.
    /// </summary>
    public bool SpectralNorm { get; init; }

    /// <summary>
    /// Discriminator rejection sampling of the final samples (key <c>train.rejection-sampling</c>; Azadi et al. 2019):
    /// after the last round a discriminator is fitted to the final generator (<see cref="RejectionSteps"/> steps) and
    /// the samples it finds unlike the data are rejected; the summary reports the metrics of both.
    /// </summary>
    public bool RejectionSampling { get; init; }

    /// <summary>Optimizer steps that fit the rejection-sampling discriminator (key <c>train.rejection-steps</c>).</summary>
    public int RejectionSteps { get; init; } = 10_000;

    /// <summary>
    /// The percentile of the burn-in's acceptance scores that rejection sampling keeps with probability one half (key
    /// <c>train.rejection-percentile</c>, in (0, 100)): higher keeps fewer samples and follows the fitted density
    /// ratio more closely (see <see cref="Evaluation.RejectionSampler"/>).
    /// </summary>
    public double RejectionPercentile { get; init; } = 80;

    /// <summary>WGAN weight clipping bound c (weights clamped to [-c, c] after each step); 0 = off.</summary>
    public double ClipValue { get; init; }
    /// <summary>WGAN-GP penalty weight lambda on (||grad D(x_hat)|| - 1)^2; 0 = off.</summary>
    public double GradientPenalty { get; init; }
    /// <summary>R1 penalty weight gamma: gamma/2 * ||grad D(x_real)||^2; 0 = off.</summary>
    public double R1Gamma { get; init; }
    /// <summary>Initial std of the Gaussian instance noise added to every discriminator input; 0 = off.</summary>
    public double InstanceNoise { get; init; }
    /// <summary>Rounds over which instance noise decays linearly to 0; 0 = constant.</summary>
    public int InstanceNoiseAnneal { get; init; }
    /// <summary>L2 weight penalty on the discriminator's parameters; 0 = off.</summary>
    public double L2Penalty { get; init; }

    /// <summary>Unrolled lookahead steps of each discriminator in the generator step (0: a plain GAN).</summary>
    public int Unroll { get; init; } = 5;
    /// <summary>Whether the generator's gradient flows through the lookahead's updates.</summary>
    public UnrollOrder UnrollOrder { get; init; } = UnrollOrder.First;

    /// <summary>
    /// Members created so far: <c>d-0</c> .. <c>d-(N-1)</c>. A run starts with this many; <c>gan population add</c>
    /// creates <c>d-N</c> and raises it (member ids are never reused).
    /// </summary>
    public int Discriminators { get; init; } = 1;

    /// <summary>Members taken out of a running population (<c>gan population remove</c>), sorted; empty for a new run.</summary>
    public IReadOnlyList<int> RemovedMembers { get; init; } = [];

    /// <summary>The members taking part, in member order: <c>0..Discriminators-1</c> without <see cref="RemovedMembers"/>.</summary>
    public int[] ActiveMembers => [.. Enumerable.Range(0, Discriminators).Where(i => !RemovedMembers.Contains(i))];

    /// <summary>
    /// Per-member overrides of a heterogeneous population: entry i applies to <c>d-i</c> (members without an entry
    /// take the run's values). HOCON <c>akkagan.population.members</c>, flag <c>--members</c>.
    /// </summary>
    public IReadOnlyList<MemberOverrides> Members { get; init; } = [];
    /// <summary>How the generator combines the population's feedback.</summary>
    public AggregationKind Aggregate { get; init; } = AggregationKind.Mean;
    /// <summary>The GMAN softmax temperature (0: the mean; large: the max).</summary>
    public double SoftmaxLambda { get; init; } = 1.0;
    /// <summary>Members drawn per generator step with <see cref="AggregationKind.Subset"/>.</summary>
    public int SubsetSize { get; init; } = 1;
    /// <summary>Population evolution interval in rounds; 0 = off.</summary>
    public int EvolveEvery { get; init; }
    /// <summary>Relative learning-rate perturbation of an evolved discriminator (0.2: multiplied by 0.8 or 1.2).</summary>
    public double LrPerturbation { get; init; } = 0.2;

    /// <summary>
    /// Cluster engine: discriminators that must take part in a round. Members that miss a round (lost with their node)
    /// are left out and restored from the last checkpoint; with fewer than this the coordinator waits for them.
    /// </summary>
    public int Quorum { get; init; } = 1;

    /// <summary>Cluster engine: fast (the others train on; the lost member is restored alone) or exact (the run rolls back and replays).</summary>
    public RecoveryMode Recovery { get; init; } = RecoveryMode.Fast;

    /// <summary>Divergence guard: roll-backs to the last checkpoint before a diverging run stops; 0 = the guard is off.</summary>
    public int MaxRollbacks { get; init; } = 3;
    /// <summary>Every learning rate is multiplied by this after a roll-back.</summary>
    public double RollbackLrFactor { get; init; } = 0.5;
    /// <summary>A gradient norm above this multiple of its median over the last 100 rounds counts as divergence; 0 = only non-finite values do.</summary>
    public double GradNormLimit { get; init; } = 1000;

    /// <summary>Training-health diagnoses and remedies (HOCON <c>akkagan.health</c>, flag <c>--auto-remedy</c>).</summary>
    public HealthSettings Health { get; init; } = new();

    /// <summary>Discriminator steps per round (a round is n-critic discriminator steps and one generator step).</summary>
    public int NCritic { get; init; } = 1;
    /// <summary>Rounds to train, in total (a resumed run counts the rounds before it).</summary>
    public int Rounds { get; init; } = 3000;
    /// <summary>Batch size of every discriminator and generator step.</summary>
    public int Batch { get; init; } = 512;
    /// <summary>The base seed every random draw derives from, with the round, role, member and purpose.</summary>
    public long Seed { get; init; } = 1;
    /// <summary>Rounds between evaluations (metrics, plots, TensorBoard).</summary>
    public int EvalEvery { get; init; } = 250;
    /// <summary>Generated samples per evaluation.</summary>
    public int EvalSamples { get; init; } = 2500;
    /// <summary>Rounds between checkpoints.</summary>
    public int CheckpointEvery { get; init; } = 500;
    /// <summary>How many of the newest checkpoints stay on disk.</summary>
    public int KeepCheckpoints { get; init; } = 3;
    /// <summary>Where tensors live.</summary>
    public DeviceKind Device { get; init; } = DeviceKind.Auto;
    /// <summary>Intra-op threads for torch on this node; 0 = auto (1 for 2-D MLPs, all cores for images).</summary>
    public int TorchThreads { get; init; }
    /// <summary>
    /// The element type of a round's tensors between generator and discriminators: float32 (lossless, the default) or
    /// float16/bfloat16 (half the bytes, rounded). Both engines round at the same places, so they stay equal.
    /// </summary>
    public WireFormat WireDType { get; init; } = WireFormat.Float32;

    /// <summary>
    /// The settings discriminator <paramref name="member"/> trains with: this run's, with the member's overrides (loss,
    /// learning rate, regularizers) applied. The generator and the schedule never read member settings.
    /// </summary>
    public TrainingSettings ForMember(int member)
    {
        if (member < 0 || member >= Members.Count) return this;
        var m = Members[member];
        return this with
        {
            Loss = m.Loss ?? Loss,
            LrD = m.LrD ?? LrD,
            ClipValue = m.Clip ?? ClipValue,
            GradientPenalty = m.GradientPenalty ?? GradientPenalty,
            R1Gamma = m.R1Gamma ?? R1Gamma,
            InstanceNoise = m.InstanceNoise ?? InstanceNoise,
            L2Penalty = m.L2Penalty ?? L2Penalty,
            Members = [],
        };
    }

    /// <summary>True for the 2-D Gaussian-mixture datasets (mode metrics, scatter plots over the true modes).</summary>
    public bool IsToyData => Dataset is DatasetKind.Ring8 or DatasetKind.Grid25 or DatasetKind.Spiral;

    /// <summary>True for data whose samples are points (the mixtures and a points file): MLP models.</summary>
    public bool IsPointData => IsToyData || Dataset == DatasetKind.Points;

    /// <summary>True for Fashion-MNIST and Stacked Fashion-MNIST, whose metrics need the evaluation classifier.</summary>
    public bool HasClassifierMetrics => Dataset is DatasetKind.FashionMnist or DatasetKind.StackedFashionMnist;

    /// <summary>
    /// Checks every value and combination; throws <see cref="SettingsException"/> naming the offending key
    /// (the key is the HOCON/flag name, e.g. <c>n-critic</c>).
    /// </summary>
    public TrainingSettings Validate()
    {
        var errors = new List<string>();
        void Positive(string key, double value)
        {
            if (!(value > 0) || double.IsInfinity(value)) errors.Add($"{key} must be a positive number (got {Fmt(value)})");
        }
        void NonNegative(string key, double value)
        {
            if (!(value >= 0) || double.IsInfinity(value)) errors.Add($"{key} must be zero or positive (got {Fmt(value)})");
        }

        Positive("latent-dim", LatentDim);
        Positive("hidden-units", HiddenUnits);
        Positive("hidden-layers", HiddenLayers);
        Positive("lr-g", LrG);
        Positive("lr-d", LrD);
        if (!(Beta1 >= 0 && Beta1 < 1)) errors.Add($"beta1 must be in [0, 1) (got {Fmt(Beta1)})");
        if (!(LrFinal >= 0 && LrFinal <= 1)) errors.Add($"lr-final must be in [0, 1] (got {Fmt(LrFinal)})");
        if (!(Beta2 >= 0 && Beta2 < 1)) errors.Add($"beta2 must be in [0, 1) (got {Fmt(Beta2)})");
        NonNegative("clip", ClipValue);
        NonNegative("gradient-penalty", GradientPenalty);
        NonNegative("r1-gamma", R1Gamma);
        NonNegative("instance-noise", InstanceNoise);
        NonNegative("instance-noise-anneal", InstanceNoiseAnneal);
        NonNegative("l2-penalty", L2Penalty);
        NonNegative("unroll", Unroll);
        Positive("discriminators", Discriminators);
        NonNegative("softmax-lambda", SoftmaxLambda);
        NonNegative("evolve-every", EvolveEvery);
        if (!(LrPerturbation >= 0 && LrPerturbation < 1)) errors.Add($"lr-perturbation must be in [0, 1) (got {Fmt(LrPerturbation)})");
        Positive("n-critic", NCritic);
        Positive("rounds", Rounds);
        Positive("batch", Batch);
        Positive("eval-every", EvalEvery);
        Positive("eval-samples", EvalSamples);
        Positive("checkpoint-every", CheckpointEvery);
        Positive("keep-checkpoints", KeepCheckpoints);
        NonNegative("torch-threads", TorchThreads);
        if (MixtureScale is { } scale) Positive("mixture-scale", scale);
        if (MixtureStd is { } std) Positive("mixture-std", std);
        if (Seed < 0) errors.Add($"seed must be zero or positive (got {Seed})");

        foreach (var removed in RemovedMembers)
            if (removed < 0 || removed >= Discriminators) errors.Add($"removed member d-{removed} does not exist (members d-0..d-{Discriminators - 1})");
        if (RemovedMembers.Distinct().Count() != RemovedMembers.Count) errors.Add("a member is removed twice");
        var active = Discriminators > 0 ? ActiveMembers.Length : 0;
        if (Discriminators > 0 && active == 0) errors.Add("the population needs at least one discriminator");
        if (Aggregate == AggregationKind.Subset && (SubsetSize < 1 || SubsetSize > active))
            errors.Add($"subset-size must be between 1 and the population size ({active}) with aggregate=subset (got {SubsetSize})");
        Positive("quorum", Quorum);
        NonNegative("max-rollbacks", MaxRollbacks);
        if (!(RollbackLrFactor > 0 && RollbackLrFactor <= 1)) errors.Add($"rollback-lr-factor must be in (0, 1] (got {Fmt(RollbackLrFactor)})");
        NonNegative("grad-norm-limit", GradNormLimit);
        if (Discriminators > 0 && Quorum > active) errors.Add($"quorum ({Quorum}) exceeds the population size ({active})");
        if (EvolveEvery > 0 && active < 2)
            errors.Add("evolve-every needs a population: 2 or more discriminators, or evolve-every 0");
        if (Loss == LossKind.Wasserstein && ClipValue == 0 && GradientPenalty == 0)
            errors.Add("loss=wasserstein needs a Lipschitz constraint: set clip (e.g. 0.01) or gradient-penalty (e.g. 10)");
        if (ClipValue > 0 && GradientPenalty > 0)
            errors.Add("clip and gradient-penalty are alternatives for the Wasserstein critic; set only one");
        if (HasClassifierMetrics && string.IsNullOrWhiteSpace(DataDir))
            errors.Add("data-dir must name the folder with the Fashion-MNIST IDX files");
        if (Dataset == DatasetKind.Images && string.IsNullOrWhiteSpace(DataDir))
            errors.Add("dataset=images needs data-dir, the folder of the PNG or JPEG images");
        if (Dataset == DatasetKind.Points && string.IsNullOrWhiteSpace(DataFile))
            errors.Add("dataset=points needs data-file, a .csv or .npy file of points (--data-file FILE)");
        if (!ImageSizes.Contains(ImageSize))
            errors.Add($"image-size must be one of {string.Join(", ", ImageSizes)} (got {ImageSize})");
        if (Channels is not (0 or 1 or 3)) errors.Add($"channels must be 1 (grayscale), 3 (RGB) or 0 (from the data) (got {Channels})");
        NonNegative("dimension", Dimension);
        Positive("pack", Pack);
        Positive("rejection-steps", RejectionSteps);
        if (!(RejectionPercentile > 0 && RejectionPercentile < 100))
            errors.Add($"rejection-percentile must be between 0 and 100, both excluded (got {Fmt(RejectionPercentile)})");
        if (Pack > 1 && Batch % Pack != 0) errors.Add($"batch ({Batch}) must be a multiple of pack ({Pack})");
        if (!(GeneratorEma >= 0 && GeneratorEma < 1)) errors.Add($"g-ema must be in [0, 1) (got {Fmt(GeneratorEma)})");
        NonNegative("data-shards", DataShards);
        if (DataShards > 1 && IsToyData)
            errors.Add($"data-shards splits a finite dataset (fashion-mnist, stacked-fashion-mnist, points, images); {SettingValues.Kebab(Dataset)} draws fresh samples from its mixture");
        if (DataShards > 1 && DataShards > Discriminators)
            errors.Add($"data-shards ({DataShards}) exceeds the discriminators ({Discriminators}): shards {Discriminators}..{DataShards - 1} would be seen by no member");

        errors.AddRange(Health.Problems());
        if (Members.Count > Discriminators)
            errors.Add($"population.members has {Members.Count} entries but discriminators = {Discriminators}; give one entry per member at most");
        if (errors.Count == 0)
        {
            // Each member's own combination (e.g. a Wasserstein member needs clip or gradient-penalty).
            for (var i = 0; i < Members.Count; i++)
            {
                try
                {
                    ForMember(i).Validate();
                }
                catch (SettingsException e)
                {
                    errors.AddRange(e.Problems.Select(p => $"population.members[{i}] (d-{i}): {p}"));
                }
            }
        }

        if (errors.Count > 0) throw new SettingsException(errors);
        return this;
    }

    private static string Fmt(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>Thrown by <see cref="TrainingSettings.Validate"/>; the message lists every problem, one per line.</summary>
public sealed class SettingsException : Exception
{
    /// <summary>Creates the exception from every problem found, one per line of the message.</summary>
    public SettingsException(IReadOnlyList<string> problems)
        : base("invalid settings:\n  - " + string.Join("\n  - ", problems)) => Problems = problems;

    /// <summary>Creates the exception for one problem.</summary>
    public SettingsException(string problem) : this([problem]) { }

    /// <summary>Creates the exception for an unnamed problem.</summary>
    public SettingsException() : this("unknown settings problem") { }

    /// <summary>Creates the exception for one problem and the exception that caused it.</summary>
    public SettingsException(string message, Exception inner) : base(message, inner) => Problems = [message];

    /// <summary>Every problem found, as the message lists them.</summary>
    public IReadOnlyList<string> Problems { get; } = [];
}

/// <summary>One discriminator's deviations from the run's settings (null: the run's value).</summary>
public sealed record MemberOverrides
{
    /// <summary>The member's loss pair.</summary>
    public LossKind? Loss { get; init; }
    /// <summary>The member's base learning rate.</summary>
    public double? LrD { get; init; }
    /// <summary>The member's weight clipping bound (0: off).</summary>
    public double? Clip { get; init; }
    /// <summary>The member's WGAN-GP weight.</summary>
    public double? GradientPenalty { get; init; }
    /// <summary>The member's R1 weight.</summary>
    public double? R1Gamma { get; init; }
    /// <summary>The member's instance-noise std.</summary>
    public double? InstanceNoise { get; init; }
    /// <summary>The member's L2 weight penalty.</summary>
    public double? L2Penalty { get; init; }
}
