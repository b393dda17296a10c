using AkkaGan.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace AkkaGan.Core.Metrics;

/// <summary>
/// Fidelity and diversity of generated samples as separate numbers, from k-nearest-neighbour balls in a feature space:
/// precision and recall (Kynkaanniemi et al., "Improved Precision and Recall Metric for Assessing Generative Models",
/// 2019) and density and coverage (Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative Models", 2020).
/// Precision: the share of generated samples inside some real sample's ball (realistic samples). Recall: the share of
/// real samples inside some generated sample's ball (how much of the data the generator reaches). Density: how many
/// real balls a generated sample lies in on average, over k (about 1 when the distributions match; robust to real
/// outliers). Coverage: the share of real samples whose ball holds a generated sample (drops when modes are missed;
/// robust to generated outliers). The features are the coordinates for points and <see cref="RandomEmbedding"/>'s for
/// images; distances are Euclidean, in float32.
/// </summary>
/// <param name="Precision">Share of generated samples within the k-NN ball of a real one, in [0, 1].</param>
/// <param name="Recall">Share of real samples within the k-NN ball of a generated one, in [0, 1].</param>
/// <param name="Density">Mean count of real balls holding a generated sample, over k; about 1 for matching distributions.</param>
/// <param name="Coverage">Share of real samples whose ball holds a generated sample, in [0, 1].</param>
/// <param name="K">Neighbours of the balls.</param>
/// <param name="RealSamples">Real samples compared.</param>
/// <param name="GeneratedSamples">Generated samples compared.</param>
public sealed record Fidelity(double Precision, double Recall, double Density, double Coverage, int K, int RealSamples, int GeneratedSamples)
{
    /// <summary>Neighbours of the balls: Naeem et al.'s recommendation for density and coverage (they found k = 5 stable for 10,000 samples; with fewer it holds as well).</summary>
    public const int DefaultK = 5;

    /// <summary>Samples of each side compared at most (the cost grows with their product).</summary>
    public const int MaxSamples = 2500;

    /// <summary>The real side, kept once per run: the features and each one's k-NN radius among them.</summary>
    public sealed class Reference : IDisposable
    {
        internal Reference(Tensor features, Tensor radii, int k)
        {
            Features = features.DetachFromDisposeScope();
            Radii = radii.DetachFromDisposeScope();
            K = k;
        }

        internal Tensor Features { get; }
        internal Tensor Radii { get; }

        /// <summary>Neighbours of the balls.</summary>
        public int K { get; }

        /// <summary>Real samples held.</summary>
        public int Count => (int)Features.shape[0];

        /// <summary>The reference of real features (N, d), at most <see cref="MaxSamples"/> of them, with k-NN balls of <paramref name="k"/>.</summary>
        public static Reference Of(Tensor realFeatures, int k = DefaultK)
        {
            if (realFeatures.dim() != 2) throw new ArgumentException($"features must be (N, d), got [{string.Join(", ", realFeatures.shape)}]", nameof(realFeatures));
            var n = Math.Min(MaxSamples, realFeatures.shape[0]);
            if (n <= k) throw new ArgumentException($"{n} real samples: more than k = {k} are needed", nameof(realFeatures));
            using var scope = NewDisposeScope();
            var features = realFeatures.narrow(0, 0, n).to_type(ScalarType.Float32).cpu().contiguous();
            return new Reference(features.MoveToOuterDisposeScope(), KthNeighbourDistance(features, k).MoveToOuterDisposeScope(), k);
        }

        /// <summary>Frees the features.</summary>
        public void Dispose()
        {
            Features.Dispose();
            Radii.Dispose();
        }
    }

    /// <summary>The four numbers of generated features (M, d) against <paramref name="reference"/>; at most <see cref="MaxSamples"/> are used.</summary>
    public static Fidelity Compute(Tensor generatedFeatures, Reference reference)
    {
        var m = Math.Min(MaxSamples, generatedFeatures.shape[0]);
        if (m <= reference.K) throw new ArgumentException($"{m} generated samples: more than k = {reference.K} are needed", nameof(generatedFeatures));
        using var scope = NewDisposeScope();
        var fake = generatedFeatures.narrow(0, 0, m).to_type(ScalarType.Float32).cpu().contiguous();
        var fakeRadii = KthNeighbourDistance(fake, reference.K);                               // (M)
        var distances = cdist(fake, reference.Features);                                      // (M, N)
        var inRealBall = distances.le(reference.Radii.unsqueeze(0));                          // (M, N): fake j in real i's ball
        var precision = inRealBall.any(1).to_type(ScalarType.Float64).mean().item<double>();
        var density = inRealBall.to_type(ScalarType.Float64).sum().item<double>() / (reference.K * (double)m);
        var coverage = distances.min(0).values.le(reference.Radii).to_type(ScalarType.Float64).mean().item<double>();
        var recall = distances.le(fakeRadii.unsqueeze(1)).any(0).to_type(ScalarType.Float64).mean().item<double>();
        return new Fidelity(precision, recall, density, coverage, reference.K, reference.Count, (int)m);
    }

    /// <summary>Each row's distance to its k-th nearest other row (duplicates count as neighbours at distance 0).</summary>
    private static Tensor KthNeighbourDistance(Tensor features, int k)
    {
        var distances = cdist(features, features);                    // (N, N), the diagonal is the row itself
        return distances.topk(k + 1, dim: 1, largest: false).values.select(1, k);
    }
}

/// <summary>
/// A fixed, randomly initialised convolutional network that maps images of any size to 256 features (three stride-2
/// 3x3 convolutions of 32, 64 and 128 channels with ReLU, then the global mean and max of each channel): the feature
/// space of <see cref="Fidelity"/> for images. Naeem et al. (2020, section 5) show that density and coverage in a
/// randomly initialised network's features still rank generators sensibly where no pretrained network fits the data
/// (nothing is downloaded here, and a user's images need not look like ImageNet). The weights come from a fixed seed
/// (He initialisation), so every run and node embeds alike; the numbers compare runs on the same data and image size,
/// not across datasets.
/// </summary>
public sealed class RandomEmbedding : IDisposable
{
    private const ulong Seed = 0x5A_1E_2020;
    private static readonly int[] Widths = [32, 64, 128];
    private readonly Tensor[] _weights;

    /// <summary>The embedding of <paramref name="channels"/>-channel images.</summary>
    public RandomEmbedding(int channels)
    {
        using var generator = new Generator(Seed + (ulong)channels, CPU);
        var input = channels;
        _weights = new Tensor[Widths.Length];
        for (var i = 0; i < Widths.Length; i++)
        {
            var fanIn = input * 9;
            using var draw = randn([Widths[i], input, 3, 3], dtype: ScalarType.Float32, generator: generator);
            _weights[i] = draw.Mul(Math.Sqrt(2.0 / fanIn)).DetachFromDisposeScope();
            input = Widths[i];
        }
    }

    /// <summary>The features' dimension.</summary>
    public static int Dimension => 2 * Widths[^1];

    /// <summary>Features (N, 256) of images (N, C, H, W) in [-1, 1], on the CPU, computed in batches without gradients.</summary>
    public Tensor Embed(Tensor images)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var batches = new List<Tensor>();
        for (long start = 0; start < images.shape[0]; start += 500)
        {
            var h = images.narrow(0, start, Math.Min(500, images.shape[0] - start)).to_type(ScalarType.Float32).cpu();
            foreach (var w in _weights) h = nn.functional.relu(nn.functional.conv2d(h, w, strides: [2, 2], padding: [1, 1]));
            batches.Add(cat([h.mean([2, 3]), h.amax([2, 3])], 1));
        }
        return cat(batches, 0).MoveToOuterDisposeScope();
    }

    /// <summary>Frees the weights.</summary>
    public void Dispose()
    {
        foreach (var w in _weights) w.Dispose();
    }
}
