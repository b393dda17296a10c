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
        var realRadii = reference.Radii.unsqueeze(0);                                           // (1, N)
        long inSomeRealBall = 0, inRealBalls = 0;
        Tensor? nearestFake = null, reached = null;                                             // (N) over the blocks so far
        // The (M, N) distances a block of generated rows at a time: each block stays in the cache, where the whole
        // matrix (25 MB at 2,500 x 2,500) went through memory once per operation (three times slower).
        for (long start = 0; start < m; start += Block)
        {
            using var blockScope = NewDisposeScope();
            var rows = Math.Min(Block, m - start);
            var distances = cdist(fake.narrow(0, start, rows), reference.Features);            // (B, N)
            var inRealBall = distances.le(realRadii);                                           // (B, N): fake j in real i's ball
            inSomeRealBall += inRealBall.any(1).sum().item<long>();
            inRealBalls += inRealBall.sum().item<long>();
            var blockNearest = distances.min(0).values;
            var blockReached = distances.le(fakeRadii.narrow(0, start, rows).unsqueeze(1)).any(0);
            nearestFake = (nearestFake is null ? blockNearest : nearestFake.minimum(blockNearest)).MoveToOuterDisposeScope();
            reached = (reached is null ? blockReached : reached.logical_or(blockReached)).MoveToOuterDisposeScope();
        }
        var precision = inSomeRealBall / (double)m;
        var density = inRealBalls / (reference.K * (double)m);
        var coverage = nearestFake!.le(reference.Radii).to_type(ScalarType.Float64).mean().item<double>();
        var recall = reached!.to_type(ScalarType.Float64).mean().item<double>();
        return new Fidelity(precision, recall, density, coverage, reference.K, reference.Count, (int)m);
    }

    // Generated rows per block of the distance matrix: 256 x 2,500 float32 is 2.5 MB.
    private const long Block = 256;

    /// <summary>Each row's distance to its k-th nearest other row (duplicates count as neighbours at distance 0), a block of rows at a time.</summary>
    private static Tensor KthNeighbourDistance(Tensor features, int k)
    {
        var n = features.shape[0];
        var radii = new Tensor[(n + Block - 1) / Block];
        for (long start = 0, i = 0; start < n; start += Block, i++)
        {
            using var blockScope = NewDisposeScope();
            var distances = cdist(features.narrow(0, start, Math.Min(Block, n - start)), features);   // (B, N), row j's own distance 0 among them
            radii[i] = distances.topk(k + 1, dim: 1, largest: false).values.select(1, k).contiguous().MoveToOuterDisposeScope();
        }
        var all = cat(radii, 0);
        foreach (var block in radii) block.Dispose();
        return all;
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
