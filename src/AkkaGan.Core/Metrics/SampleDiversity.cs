using static TorchSharp.torch;

namespace AkkaGan.Core.Metrics;

/// <summary>
/// Diversity of generated samples measured against real ones, for any data (2-D points or images): the mean pairwise
/// L2 distance of generated samples relative to that of real samples (1 for a generator as spread out as the data,
/// 0 for one that emits a single output), and the share of generated pairs closer than the real data's
/// 1st-percentile pairwise distance (about 0.01 for a generator as diverse as the data; near 1 when it repeats itself).
/// </summary>
/// <param name="PairwiseRatio">Mean pairwise distance of generated samples / that of real samples.</param>
/// <param name="DuplicateShare">Share of generated pairs closer than <see cref="DuplicateDistance"/>.</param>
/// <param name="DuplicateDistance">The real samples' 1st-percentile pairwise distance.</param>
/// <param name="Samples">Generated samples compared (at most <see cref="MaxSamples"/>).</param>
public sealed record SampleDiversity(double PairwiseRatio, double DuplicateShare, double DuplicateDistance, int Samples)
{
    /// <summary>Samples of each side used (pairs grow with the square; 500 gives 124,750 pairs).</summary>
    public const int MaxSamples = 500;

    /// <summary>The real side, computed once per run: its mean pairwise distance and 1st-percentile distance.</summary>
    public sealed record Reference(double MeanDistance, double DuplicateDistance)
    {
        /// <summary>The reference of real samples (N, ...), at most <see cref="MaxSamples"/> of them used.</summary>
        public static Reference Of(Tensor real)
        {
            using var scope = NewDisposeScope();
            var distances = PairDistances(real);
            if (distances.Length == 0) throw new ArgumentException("at least two real samples are needed", nameof(real));
            Array.Sort(distances);
            return new Reference(distances.Average(), distances[(int)(0.01 * (distances.Length - 1))]);
        }
    }

    /// <summary>The diversity of generated samples (N, ...) against <paramref name="reference"/>.</summary>
    public static SampleDiversity Compute(Tensor generated, Reference reference)
    {
        using var scope = NewDisposeScope();
        var distances = PairDistances(generated);
        if (distances.Length == 0) throw new ArgumentException("at least two generated samples are needed", nameof(generated));
        var mean = distances.Average();
        var close = distances.Count(d => d < reference.DuplicateDistance || double.IsNaN(d));
        return new SampleDiversity(reference.MeanDistance > 0 ? mean / reference.MeanDistance : double.NaN,
            (double)close / distances.Length, reference.DuplicateDistance, (int)Math.Min(generated.shape[0], MaxSamples));
    }

    /// <summary>Distances of every pair i &lt; j among the first <see cref="MaxSamples"/> samples.</summary>
    private static double[] PairDistances(Tensor samples)
    {
        var n = (int)Math.Min(samples.shape[0], MaxSamples);
        var flat = samples.narrow(0, 0, n).reshape(n, -1).to_type(ScalarType.Float64).cpu();   // (n, d)
        var all = cdist(flat, flat).data<double>().ToArray();                                    // (n, n) row-major
        var pairs = new double[n * (n - 1) / 2];
        var k = 0;
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++)
                pairs[k++] = all[i * n + j];
        return pairs;
    }
}
