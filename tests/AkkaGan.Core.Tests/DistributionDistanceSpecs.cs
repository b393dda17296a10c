using AkkaGan.Core.Data;
using AkkaGan.Core.Metrics;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>
/// The sliced Wasserstein distance and MMD on cases with a known answer: two samples of the same distribution, a
/// shifted one, a collapsed one (every sample on one mode), and a half-covered one.
/// </summary>
public sealed class DistributionDistanceSpecs
{
    private static (float[] Values, int Count) Sample(GaussianMixture data, int count, ulong seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(seed, CPU);
        return (data.Sample(count, generator).contiguous().data<float>().ToArray(), count);
    }

    private static float[] Shift(float[] values, float dx) => [.. values.Select((v, i) => i % 2 == 0 ? v + dx : v)];

    [Fact]
    public void The_distances_should_order_same_shifted_collapsed_and_half_covered_samples()
    {
        var ring = GaussianMixture.Ring8();
        var (real, n) = Sample(ring, 2500, 1);
        var reference = DistributionDistance.Reference.Of(real, n, 2);
        var (same, _) = Sample(ring, 2500, 2);
        var sameDistance = DistributionDistance.Compute(same, n, reference);
        var shifted = DistributionDistance.Compute(Shift(same, 0.5f), n, reference);
        // Every sample on the first mode (1, 0), with the data's spread.
        var collapsed = DistributionDistance.Compute([.. same.Select((v, i) => i % 2 == 0 ? 1f + v * 0.01f : v * 0.01f)], n, reference);
        // Half the modes: the samples of the other half moved onto their neighbours.
        var half = DistributionDistance.Compute(HalfTheModes(same), n, reference);

        // Mode proportions fluctuate by about 5% between two samples of 2500, which moves quantiles between modes.
        Assert.True(sameDistance.SlicedWasserstein < 0.1, $"same distribution: SW {sameDistance.SlicedWasserstein}");
        Assert.True(Math.Abs(sameDistance.Mmd!.Value) < 0.01, $"same distribution: MMD {sameDistance.Mmd}");
        foreach (var (name, other) in new[] { ("shifted", shifted), ("collapsed", collapsed), ("half the modes", half) })
        {
            Assert.True(other.SlicedWasserstein > 3 * sameDistance.SlicedWasserstein, $"{name}: SW {other.SlicedWasserstein} vs {sameDistance.SlicedWasserstein}");
            Assert.True(other.Mmd > 10 * Math.Max(sameDistance.Mmd.Value, 1e-3), $"{name}: MMD {other.Mmd} vs {sameDistance.Mmd}");
        }
        Assert.True(collapsed.SlicedWasserstein > half.SlicedWasserstein, "a single mode is farther than half of them");
        // A shift of 0.5 along x moves every projection by 0.5 |cos|: the sliced W2 is 0.5 * sqrt(E cos^2) = 0.5 / sqrt(2).
        Assert.InRange(shifted.SlicedWasserstein, 0.30, 0.42);
    }

    [Fact]
    public void The_same_inputs_should_give_the_same_numbers()
    {
        var (real, n) = Sample(GaussianMixture.Grid25(), 1000, 3);
        var (generated, m) = Sample(GaussianMixture.Grid25(), 700, 4);
        var a = DistributionDistance.Compute(generated, m, DistributionDistance.Reference.Of(real, n, 2));
        var b = DistributionDistance.Compute(generated, m, DistributionDistance.Reference.Of(real, n, 2));
        Assert.Equal(a, b);
        Assert.Equal(700, a.Samples);
    }

    [Fact]
    public void Without_the_mmd_only_the_sliced_distance_should_be_computed()
    {
        var (real, n) = Sample(GaussianMixture.Ring8(), 500, 5);
        var (generated, m) = Sample(GaussianMixture.Ring8(), 400, 6);
        var withMmd = DistributionDistance.Compute(generated, m, DistributionDistance.Reference.Of(real, n, 2));
        var slicedOnly = DistributionDistance.Compute(generated, m, DistributionDistance.Reference.Of(real, n, 2, withMmd: false));
        Assert.Null(slicedOnly.Mmd);
        Assert.NotNull(withMmd.Mmd);
        Assert.Equal(withMmd.SlicedWasserstein, slicedOnly.SlicedWasserstein);
    }

    [Fact]
    public void Bad_inputs_should_be_refused()
    {
        Assert.Throws<ArgumentException>(() => DistributionDistance.Reference.Of([1f, 2f], 1, 2));
        Assert.Throws<ArgumentException>(() => DistributionDistance.Reference.Of([1f, 2f, 3f], 2, 2));
        var reference = DistributionDistance.Reference.Of([0f, 0f, 1f, 1f], 2, 2);
        Assert.Throws<ArgumentException>(() => DistributionDistance.Compute([0f, 0f, 1f], 2, reference));
    }

    /// <summary>Points of modes 1, 3, 5, 7 of the ring rotated onto modes 0, 2, 4, 6.</summary>
    private static float[] HalfTheModes(float[] points)
    {
        var moved = (float[])points.Clone();
        for (var i = 0; i < points.Length / 2; i++)
        {
            var (x, y) = (points[2 * i], points[2 * i + 1]);
            var mode = (int)Math.Round(Math.Atan2(y, x) / (Math.PI / 4));
            if ((mode & 1) == 0) continue;
            var (c, s) = (Math.Cos(Math.PI / 4), Math.Sin(Math.PI / 4));
            moved[2 * i] = (float)(c * x + s * y);     // rotate by -45 degrees
            moved[2 * i + 1] = (float)(-s * x + c * y);
        }
        return moved;
    }
}
