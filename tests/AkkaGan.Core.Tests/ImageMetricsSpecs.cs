using AkkaGan.Core.Data;
using AkkaGan.Core.Metrics;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

public sealed class ImageMetricsSpecs
{
    [Fact]
    public void Coverage_should_be_one_mode_and_log_1000_when_every_sample_has_the_same_triplet()
    {
        using var labels = full([26_000], 417L, dtype: ScalarType.Int64);
        var counts = ImageMetrics.Histogram(labels, 1000);
        var (covered, kl) = ImageMetrics.Coverage(counts);
        Assert.Equal(1, covered);
        Assert.Equal(26_000, counts[417]);
        Assert.Equal(Math.Log(1000), kl, 12);
    }

    [Fact]
    public void Coverage_should_be_exact_for_a_perfectly_uniform_histogram_and_near_the_sampling_floor_for_uniform_draws()
    {
        using var exact = arange(26_000L, dtype: ScalarType.Int64).remainder(1000);
        var (coveredExact, klExact) = ImageMetrics.Coverage(ImageMetrics.Histogram(exact, 1000));
        Assert.Equal(1000, coveredExact);
        Assert.Equal(0.0, klExact, 12);

        // 26,000 independent uniform draws over 1000 modes: every mode is hit (P(miss) = e^-26 each) and the plug-in KL
        // sits at its sampling floor, about (K - 1) / (2 N) = 0.019.
        using var generator = new Generator(7, CPU);
        using var drawn = randint(0, 1000, [26_000], generator: generator);
        var (covered, kl) = ImageMetrics.Coverage(ImageMetrics.Histogram(drawn, 1000));
        Assert.Equal(1000, covered);
        Assert.InRange(kl, 0.012, 0.027);
    }

    [Fact]
    public void Histogram_should_refuse_labels_outside_the_modes()
    {
        using var labels = tensor(new long[] { 0, 3, 10 });
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageMetrics.Histogram(labels, 10));
    }

    [Fact]
    public void Frechet_distance_should_be_zero_for_a_set_with_itself_and_grow_with_a_shift()
    {
        using var generator = new Generator(3, CPU);
        using var a = randn([4000, 16], generator: generator) * tensor(Enumerable.Range(1, 16).Select(i => (float)i / 4).ToArray());
        Assert.InRange(ImageMetrics.FrechetDistance(a, a), 0, 1e-8);
        // A shift leaves the covariance as it is: FD = |shift|^2 exactly (16 x 0.5^2 = 4, 16 x 1^2 = 16).
        using var shiftedHalf = a + 0.5f;
        using var shiftedOne = a + 1f;
        Assert.Equal(4.0, ImageMetrics.FrechetDistance(a, shiftedHalf), 4);
        Assert.Equal(16.0, ImageMetrics.FrechetDistance(a, shiftedOne), 4);
    }

    [Fact]
    public void Frechet_distance_should_match_the_closed_form_for_scaled_gaussians()
    {
        // N(0, I) and N(0, 4 I) in D dimensions: D (1 + 4 - 2 sqrt(4)) = D. Sampled, so within a few per cent.
        using var generator = new Generator(5, CPU);
        using var a = randn([20_000, 8], dtype: ScalarType.Float64, generator: generator);
        using var b = randn([20_000, 8], dtype: ScalarType.Float64, generator: generator) * 2;
        Assert.InRange(ImageMetrics.FrechetDistance(a, b), 7.6, 8.4);
    }

    [Fact]
    public void Symmetric_sqrt_should_square_back_and_ignore_negative_round_off()
    {
        using var generator = new Generator(11, CPU);
        using var x = randn([6, 6], dtype: ScalarType.Float64, generator: generator);
        using var spd = x.matmul(x.T);
        using var root = ImageMetrics.SymmetricSqrt(spd);
        Assert.True(root.matmul(root).allclose(spd, rtol: 1e-9, atol: 1e-9));
        // Rank-deficient (a singular covariance, as with fewer samples than features): no NaN.
        using var singular = x.narrow(1, 0, 2).matmul(x.narrow(1, 0, 2).T);
        Assert.False(ImageMetrics.SymmetricSqrt(singular).isnan().any().item<bool>());
    }
}
