using AkkaGan.Core.Settings;

namespace AkkaGan.Node.Cli;

/// <summary>
/// The one table of training settings: each key's HOCON path (under <c>akkagan</c>), its flag (<c>--key</c>), help
/// text and how a string value is parsed onto <see cref="TrainingSettings"/>. The HOCON binder and the command line
/// both read this table, so a key cannot exist in one and not the other.
/// </summary>
public static class SettingKeys
{
    /// <summary>One setting: <paramref name="Path"/> relative to <c>akkagan</c>, e.g. <c>train.rounds</c>.</summary>
    public sealed record Key(string Path, string HelpName, string Description, Func<TrainingSettings, string, TrainingSettings> Apply)
    {
        public string Name => Path[(Path.LastIndexOf('.') + 1)..];
        public string Flag => "--" + Name;
    }

    /// <summary>The keys a population member may override, and how each is parsed (declared before <see cref="All"/>, which names them).</summary>
    public static readonly IReadOnlyDictionary<string, Func<MemberOverrides, string, MemberOverrides>> MemberKeys =
        new Dictionary<string, Func<MemberOverrides, string, MemberOverrides>>
        {
            ["loss"] = (m, v) => m with { Loss = Enum<LossKind>(v) },
            ["lr-d"] = (m, v) => m with { LrD = Double(v) },
            ["clip"] = (m, v) => m with { Clip = Double(v) },
            ["gradient-penalty"] = (m, v) => m with { GradientPenalty = Double(v) },
            ["r1-gamma"] = (m, v) => m with { R1Gamma = Double(v) },
            ["instance-noise"] = (m, v) => m with { InstanceNoise = Double(v) },
            ["l2-penalty"] = (m, v) => m with { L2Penalty = Double(v) },
        };

    public static readonly IReadOnlyList<Key> All =
    [
        new("train.dataset", "NAME", "Real data: ring8 | grid25 | spiral | fashion-mnist | stacked-fashion-mnist", (s, v) => s with { Dataset = Enum<DatasetKind>(v) }),
        new("train.data-dir", "DIR", "Folder with the Fashion-MNIST IDX files (gzip or raw)", (s, v) => s with { DataDir = v }),
        new("classifier-dir", "DIR", "Cache of the evaluation classifier behind the image metrics; empty: $AKKAGAN_CLASSIFIER_DIR, else ~/.cache/akkagan/classifier", (s, v) => s with { ClassifierDir = v }),
        new("train.mixture-scale", "X", "Mixture radius (ring8 1, spiral 2) or grid spacing (grid25 2); empty keeps the protocol value", (s, v) => s with { MixtureScale = OptionalDouble(v) }),
        new("train.mixture-std", "X", "Std of each mixture component (ring8 0.01, grid25 0.05, spiral 0.02); empty keeps the protocol value", (s, v) => s with { MixtureStd = OptionalDouble(v) }),
        new("train.latent-dim", "N", "Dimension of the generator's input noise z", (s, v) => s with { LatentDim = Int(v) }),
        new("train.hidden-units", "N", "Width of each hidden layer of the 2-D MLPs", (s, v) => s with { HiddenUnits = Int(v) }),
        new("train.hidden-layers", "N", "Hidden layers of the 2-D MLPs", (s, v) => s with { HiddenLayers = Int(v) }),
        new("train.loss", "NAME", "GAN loss pair: minimax | non-saturating | wasserstein | hinge | least-squares", (s, v) => s with { Loss = Enum<LossKind>(v) }),
        new("train.optimizer", "NAME", "Optimizer of both networks and of the lookahead: adam | sgd", (s, v) => s with { Optimizer = Enum<OptimizerKind>(v) }),
        new("train.lr-g", "X", "Generator learning rate", (s, v) => s with { LrG = Double(v) }),
        new("train.lr-d", "X", "Discriminator learning rate", (s, v) => s with { LrD = Double(v) }),
        new("train.beta1", "X", "Adam beta1", (s, v) => s with { Beta1 = Double(v) }),
        new("train.beta2", "X", "Adam beta2", (s, v) => s with { Beta2 = Double(v) }),
        new("train.lr-decay", "NAME", "none | linear: learning rates decay linearly to lr-final x base over the rounds", (s, v) => s with { LrDecay = Enum<LrDecay>(v) }),
        new("train.lr-final", "F", "Fraction of the base learning rates reached at the last round with lr-decay=linear", (s, v) => s with { LrFinal = Double(v) }),
        new("train.clip", "C", "WGAN weight clipping to [-C, C] after each D step (0 = off)", (s, v) => s with { ClipValue = Double(v) }),
        new("train.gradient-penalty", "LAMBDA", "WGAN-GP gradient penalty weight (0 = off)", (s, v) => s with { GradientPenalty = Double(v) }),
        new("train.r1-gamma", "GAMMA", "R1 penalty weight on real data (0 = off)", (s, v) => s with { R1Gamma = Double(v) }),
        new("train.instance-noise", "STD", "Instance noise std on every D input (0 = off)", (s, v) => s with { InstanceNoise = Double(v) }),
        new("train.instance-noise-anneal", "ROUNDS", "Rounds over which instance noise decays linearly to 0 (0 = constant)", (s, v) => s with { InstanceNoiseAnneal = Int(v) }),
        new("train.l2-penalty", "MU", "L2 weight penalty on the discriminator (0 = off)", (s, v) => s with { L2Penalty = Double(v) }),
        new("train.unroll", "K", "Unrolled lookahead steps of each discriminator in the generator step (0 = plain GAN)", (s, v) => s with { Unroll = Int(v) }),
        new("train.unroll-order", "ORDER", "first | second: whether G's gradient flows through the K lookahead updates", (s, v) => s with { UnrollOrder = Enum<UnrollOrder>(v) }),
        new("train.discriminators", "N", "Size of the discriminator population", (s, v) => s with { Discriminators = Int(v) }),
        new("train.aggregate", "NAME", "How G combines the population's gradients: mean | softmax | max | subset", (s, v) => s with { Aggregate = Enum<AggregationKind>(v) }),
        new("train.softmax-lambda", "X", "GMAN softmax temperature lambda (0 = mean, large = max)", (s, v) => s with { SoftmaxLambda = Double(v) }),
        new("train.subset-size", "K", "Members drawn per generator step with aggregate=subset", (s, v) => s with { SubsetSize = Int(v) }),
        new("population.members", "SPEC", "Heterogeneous population: per-member overrides, members separated by ';', e.g. " +
            "'loss=hinge,lr-d=5e-4;loss=least-squares,r1-gamma=1' (d-0, d-1; keys: " + string.Join(", ", MemberKeys.Keys) + ")",
            (s, v) => s with { Members = ParseMembers(v) }),
        new("train.evolve-every", "ROUNDS", "Population evolution interval: worst D takes the best's weights (0 = off)", (s, v) => s with { EvolveEvery = Int(v) }),
        new("train.lr-perturbation", "P", "Evolved D's learning rate is the best's times (1 - P) or (1 + P)", (s, v) => s with { LrPerturbation = Double(v) }),
        new("train.quorum", "N", "Cluster engine: discriminators a round needs; members lost with a node are left out and restored from the last checkpoint, below N the coordinator waits", (s, v) => s with { Quorum = Int(v) }),
        new("train.max-rollbacks", "N", "Divergence guard: roll-backs to the last checkpoint (NaN/Inf or exploding gradients) before the run stops; 0 = off", (s, v) => s with { MaxRollbacks = Int(v) }),
        new("train.rollback-lr-factor", "F", "Every learning rate is multiplied by F after a roll-back", (s, v) => s with { RollbackLrFactor = Double(v) }),
        new("train.grad-norm-limit", "X", "A gradient norm above X times its median over the last 100 rounds counts as divergence (0 = only NaN/Inf)", (s, v) => s with { GradNormLimit = Double(v) }),
        new("health.auto-remedy", "[on|off]", "Apply the remedies of akkagan.health when a diagnosis holds: vanishing gradients, mode collapse, non-convergence (a bare flag is on)",
            (s, v) => s with { Health = s.Health with { AutoRemedy = Switch(v) } }),
        new("train.n-critic", "N", "Discriminator steps per round (a round = n-critic D steps + 1 G step)", (s, v) => s with { NCritic = Int(v) }),
        new("train.rounds", "N", "Rounds to train", (s, v) => s with { Rounds = Int(v) }),
        new("train.batch", "N", "Batch size of every D and G step", (s, v) => s with { Batch = Int(v) }),
        new("train.seed", "N", "Base seed; every random draw derives from it, the round and the role", (s, v) => s with { Seed = Long(v) }),
        new("train.eval-every", "ROUNDS", "Evaluation (metrics, plots, TensorBoard) interval", (s, v) => s with { EvalEvery = Int(v) }),
        new("train.eval-samples", "N", "Generated samples per evaluation (2500 is the VEEGAN/PacGAN protocol; Stacked-MNIST's is 26000)", (s, v) => s with { EvalSamples = Int(v) }),
        new("train.checkpoint-every", "ROUNDS", "Checkpoint interval", (s, v) => s with { CheckpointEvery = Int(v) }),
        new("train.keep-checkpoints", "N", "Newest checkpoints kept in <out>/checkpoints", (s, v) => s with { KeepCheckpoints = Int(v) }),
        new("device", "NAME", "auto | cpu | cuda (cuda needs the -p:TorchBackend=cuda build)", (s, v) => s with { Device = Enum<DeviceKind>(v) }),
        new("torch-threads", "N", "Torch intra-op threads (0 = auto: 1 for the 2-D MLPs, all cores for images)", (s, v) => s with { TorchThreads = Int(v) }),
    ];

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
                    member = apply(member, pair[(eq + 1)..].Trim());
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

    /// <summary>kebab-case name of an enum member (NonSaturating -> non-saturating, Ring8 -> ring8).</summary>
    public static string Kebab<T>(T value) where T : struct, System.Enum => SettingValues.Kebab(value);

    private static T Enum<T>(string value) where T : struct, System.Enum => SettingValues.Enum<T>(value);

    private static int Int(string value) => SettingValues.Int(value);

    private static long Long(string value) => SettingValues.Long(value);

    private static double Double(string value) => SettingValues.Double(value);

    private static double? OptionalDouble(string value) => SettingValues.OptionalDouble(value);

    private static bool Switch(string value) => SettingValues.Switch(value);
}
