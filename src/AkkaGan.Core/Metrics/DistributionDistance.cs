namespace AkkaGan.Core.Metrics;

/// <summary>
/// How far generated samples lie from real ones as distributions, for data without known modes (a user's point cloud)
/// as for the built-in 2-D sets: the sliced Wasserstein-2 distance (the mean over random directions of the squared
/// 1-D Wasserstein-2 distance of the projections, square-rooted; in the data's units, 0 for equal distributions) and
/// the squared maximum mean discrepancy with a mixture of Gaussian kernels whose widths are multiples of the real samples'
/// median pairwise distance (<see cref="BandwidthScales"/>; the unbiased estimate: about 0 for equal distributions, up to 2). Both are computed in double precision from
/// float32 samples (the projections are one float32 matrix product), with directions from a fixed seed, so every machine
/// gives the same numbers to round-off.
/// </summary>
/// <param name="SlicedWasserstein">Sliced Wasserstein-2 distance, in the data's units.</param>
/// <param name="Mmd">Squared MMD (unbiased; may be slightly negative for equal distributions); null where not computed (images).</param>
/// <param name="Samples">Generated samples compared.</param>
public sealed record DistributionDistance(double SlicedWasserstein, double? Mmd, int Samples)
{
    /// <summary>Generated samples the sliced distance uses at most (its cost grows with samples x dimension).</summary>
    public const int MaxSamples = 2500;

    /// <summary>Random directions of the sliced distance.</summary>
    public const int Projections = 128;

    /// <summary>
    /// The kernel's widths as multiples of the real samples' median pairwise distance, averaged: the median alone is
    /// too wide to see modes dropped from a multimodal set (ring8 with half its modes scored 1e-4), the narrow widths see
    /// them, the wide ones see shifts of the whole.
    /// </summary>
    public static readonly IReadOnlyList<double> BandwidthScales = [1.0 / 16, 1.0 / 4, 1, 4];

    /// <summary>Samples of each side the MMD uses (its cost grows with the square).</summary>
    public const int MmdSamples = 1000;

    /// <summary>The real side, kept once per run: the samples (row-major, n x d), their directions' projections sorted, and the kernel width.</summary>
    public sealed class Reference
    {
        internal Reference(float[] samples, int count, int dimension, double[][] directions, double[][] sortedProjections, double bandwidth)
        {
            Samples = samples;
            Count = count;
            Dimension = dimension;
            Directions = directions;
            SortedProjections = sortedProjections;
            Bandwidth = bandwidth;
        }

        internal float[] Samples { get; }
        internal int Count { get; }

        /// <summary>The dimension of a sample.</summary>
        public int Dimension { get; }
        internal double[][] Directions { get; }
        internal double[][] SortedProjections { get; }

        /// <summary>The Gaussian kernel's width: the real samples' median pairwise distance.</summary>
        public double Bandwidth { get; }

        /// <summary>Whether <see cref="Compute"/> computes the MMD against this reference.</summary>
        public bool WithMmd { get; private init; } = true;

        // The MMD's real-real kernel sum, the same at every evaluation: computed at the first (a quarter of its pairs).
        internal double RealKernelSum(Func<float[], int, float[], int, double> kernel, int m)
        {
            if (_realKernelSum is { } known) return known;
            double yy = 0;
            for (var i = 0; i < m; i++)
                for (var j = i + 1; j < m; j++)
                    yy += kernel(Samples, i, Samples, j);
            _realKernelSum = yy;
            return yy;
        }

        private double? _realKernelSum;

        /// <summary>
        /// The reference of <paramref name="count"/> real samples of <paramref name="dimension"/> values each (row-major);
        /// <paramref name="withMmd"/> false: the sliced distance only (images: the MMD's pairs cost too much there).
        /// </summary>
        public static Reference Of(float[] samples, int count, int dimension, int seed = 20190501, bool withMmd = true)
        {
            if (count < 2) throw new ArgumentException("at least two real samples are needed", nameof(count));
            if (samples.Length != count * dimension) throw new ArgumentException($"{samples.Length} values are not {count} samples of {dimension}", nameof(samples));
            var random = new Random(seed);
            var directions = new double[Projections][];
            for (var p = 0; p < Projections; p++)
            {
                var v = new double[dimension];
                double norm;
                do
                {
                    for (var i = 0; i < dimension; i++) v[i] = Normal(random);
                    norm = Math.Sqrt(v.Sum(x => x * x));
                } while (norm == 0);
                for (var i = 0; i < dimension; i++) v[i] /= norm;
                directions[p] = v;
            }
            var sorted = SortedProjections(samples, count, dimension, directions);
            if (!withMmd) return new Reference(samples, count, dimension, directions, sorted, 1.0) { WithMmd = false };
            var m = Math.Min(count, MmdSamples);
            var pairs = new List<double>(m * (m - 1) / 2);
            for (var i = 0; i < m; i++)
                for (var j = i + 1; j < m; j++)
                    pairs.Add(Math.Sqrt(SquaredDistance(samples, i, samples, j, dimension)));
            pairs.Sort();
            var median = pairs[pairs.Count / 2];
            return new Reference(samples, count, dimension, directions, sorted, median > 0 ? median : 1.0);
        }
    }

    /// <summary>The distance of <paramref name="count"/> generated samples (row-major) from <paramref name="reference"/>.</summary>
    public static DistributionDistance Compute(float[] generated, int count, Reference reference)
    {
        var d = reference.Dimension;
        if (count < 2) throw new ArgumentException("at least two generated samples are needed", nameof(count));
        if (generated.Length != count * d) throw new ArgumentException($"{generated.Length} values are not {count} samples of {d}", nameof(generated));
        var used = Math.Min(count, MaxSamples);
        var projections = SortedProjections(generated, used, d, reference.Directions);
        var sum = 0.0;
        for (var p = 0; p < Projections; p++)
            sum += SquaredQuantileDistance(projections[p], reference.SortedProjections[p]);
        var sliced = Math.Sqrt(sum / Projections);
        return new DistributionDistance(sliced, reference.WithMmd ? SquaredMmd(generated, Math.Min(count, MmdSamples), reference) : null, used);
    }

    private static double SquaredMmd(float[] x, int n, Reference reference)
    {
        var y = reference.Samples;
        var m = Math.Min(reference.Count, MmdSamples);
        var d = reference.Dimension;
        var gammas = BandwidthScales.Select(scale => 1.0 / (2 * Math.Pow(reference.Bandwidth * scale, 2))).ToArray();
        double Kernel(float[] a, int i, float[] b, int j)
        {
            var squared = SquaredDistance(a, i, b, j, d);
            var k = 0.0;
            foreach (var gamma in gammas) k += Math.Exp(-gamma * squared);
            return k / gammas.Length;
        }
        double xx = 0, xy = 0;
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++)
                xx += Kernel(x, i, x, j);
        var yy = reference.RealKernelSum(Kernel, m);
        for (var i = 0; i < n; i++)
            for (var j = 0; j < m; j++)
                xy += Kernel(x, i, y, j);
        return 2 * xx / (n * (n - 1.0)) + 2 * yy / (m * (m - 1.0)) - 2 * xy / ((double)n * m);
    }

    /// <summary>The mean squared difference of two empirical quantile functions, each read at the other's count of midpoints.</summary>
    private static double SquaredQuantileDistance(double[] a, double[] b)
    {
        var q = Math.Max(a.Length, b.Length);
        var sum = 0.0;
        for (var k = 0; k < q; k++)
        {
            var level = (k + 0.5) / q;
            var diff = Quantile(a, level) - Quantile(b, level);
            sum += diff * diff;
        }
        return sum / q;
    }

    private static double Quantile(double[] sorted, double level) => sorted[Math.Min(sorted.Length - 1, (int)(level * sorted.Length))];

    /// <summary>
    /// Each direction's projections of the first <paramref name="count"/> samples, sorted: one float32 matrix product
    /// and a sort in libtorch (pixels of 2,500 images on 128 directions in milliseconds), read back as doubles.
    /// </summary>
    private static double[][] SortedProjections(float[] samples, int count, int dimension, double[][] directions)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var x = TorchSharp.torch.tensor(samples.AsSpan(0, count * dimension).ToArray(), [count, dimension]);                      // (N, d)
        var d = TorchSharp.torch.tensor(directions.SelectMany(v => v.Select(c => (float)c)).ToArray(), [directions.Length, dimension]); // (P, d)
        var sorted = x.matmul(d.t()).sort(0).Values.t().contiguous().to_type(TorchSharp.torch.ScalarType.Float64);           // (P, N)
        var flat = sorted.data<double>().ToArray();
        return [.. Enumerable.Range(0, directions.Length).Select(p => flat.AsSpan(p * count, count).ToArray())];
    }

    private static double SquaredDistance(float[] a, int i, float[] b, int j, int dimension)
    {
        var s = 0.0;
        for (var k = 0; k < dimension; k++)
        {
            var diff = (double)a[i * dimension + k] - b[j * dimension + k];
            s += diff * diff;
        }
        return s;
    }

    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
