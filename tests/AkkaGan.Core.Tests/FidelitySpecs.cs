using AkkaGan.Core.Data;
using AkkaGan.Core.Metrics;
using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>
/// Precision, recall, density and coverage on cases with a known answer: two samples of one distribution (all high,
/// density about 1), a shifted one (fidelity gone), a collapsed one (realistic but no diversity), and noise images in
/// the random embedding of Fashion-MNIST.
/// </summary>
public sealed class FidelitySpecs
{
    private static Tensor Ring(int count, ulong seed)
    {
        using var generator = new Generator(seed, CPU);
        return GaussianMixture.Ring8().Sample(count, generator);
    }

    [Fact]
    public void Points_should_score_same_shifted_collapsed_and_half_covered_samples_as_the_papers_say()
    {
        using var scope = NewDisposeScope();
        using var reference = Fidelity.Reference.Of(Ring(1500, 1));
        var same = Ring(1500, 2);
        var matched = Fidelity.Compute(same, reference);
        // Naeem et al.: for equal distributions density is about 1 and coverage about 1 - 2^-k (0.97 for k = 5).
        Assert.True(matched.Precision > 0.85 && matched.Recall > 0.85, $"same distribution: {matched}");
        Assert.True(matched.Coverage > 0.9 && matched.Density is > 0.8 and < 1.2, $"same distribution: {matched}");

        var shifted = Fidelity.Compute(same.Add(0.25), reference);   // 25 stds off every mode
        Assert.True(shifted.Precision < 0.05 && shifted.Coverage < 0.05 && shifted.Density < 0.05, $"shifted: {shifted}");

        // Every sample on the first mode (1, 0) with the data's spread: realistic, but one mode of eight.
        using var generator = new Generator(4, CPU);
        var collapsed = Fidelity.Compute(randn([1500, 2], generator: generator).Mul(0.01).add(tensor(new[] { 1f, 0f })), reference);
        Assert.True(collapsed.Precision > 0.85, $"collapsed: {collapsed}");
        Assert.True(collapsed.Recall < 0.2 && collapsed.Coverage < 0.2, $"collapsed: {collapsed}");

        // Half the modes (those at even multiples of 45 degrees) with all the samples: fidelity kept, coverage and recall about halved.
        var angles = same.narrow(1, 1, 1).atan2(same.narrow(1, 0, 1)).squeeze(1);                  // (-pi, pi]
        var mode = angles.Div(Math.PI / 4).round().to_type(ScalarType.Int64).Remainder(2);          // 0 on even modes
        var even = same.index_select(0, mode.logical_not().nonzero().squeeze(1));
        var half = Fidelity.Compute(cat([even, even], 0), reference);
        Assert.True(half.Precision > 0.85, $"half the modes: {half}");
        Assert.True(half.Coverage is > 0.3 and < 0.65 && half.Recall is > 0.3 and < 0.65, $"half the modes: {half}");
    }

    [Fact]
    public void Images_in_the_random_embedding_should_tell_real_images_from_noise_and_from_one_repeated_image()
    {
        using var scope = NewDisposeScope();
        var fashion = FashionMnist.Load(FashionMnist.DefaultDirectory, limit: 2000);
        var real = fashion.Images.narrow(0, 0, 1000);
        var other = fashion.Images.narrow(0, 1000, 1000);
        using var embedding = new RandomEmbedding(1);
        Assert.Equal([1000L, RandomEmbedding.Dimension], embedding.Embed(real).shape);
        using var reference = Fidelity.Reference.Of(embedding.Embed(real));

        var matched = Fidelity.Compute(embedding.Embed(other), reference);
        Assert.True(matched.Precision > 0.7 && matched.Recall > 0.7 && matched.Coverage > 0.7, $"other real images: {matched}");
        Assert.True(matched.Density is > 0.6 and < 1.5, $"other real images: {matched}");

        using var generator = new Generator(3, CPU);
        var noise = Fidelity.Compute(embedding.Embed(rand([1000, 1, 28, 28], generator: generator).Mul(2).Sub(1)), reference);
        // Precision lets a few noise images into the wide balls of real outliers (the weakness density was made for).
        Assert.True(noise.Precision < 0.2 && noise.Density < 0.05 && noise.Coverage < 0.05, $"noise: {noise}");

        var repeated = Fidelity.Compute(embedding.Embed(other.narrow(0, 0, 1).expand(1000, -1, -1, -1)), reference);
        Assert.True(repeated.Recall < 0.05 && repeated.Coverage < 0.05, $"one image 1000 times: {repeated}");

        // The embedding is fixed: a second instance gives the same features.
        using var again = new RandomEmbedding(1);
        Assert.True(again.Embed(real.narrow(0, 0, 10)).allclose(embedding.Embed(real.narrow(0, 0, 10))));
        fashion.Images.Dispose();
        fashion.Labels.Dispose();
    }

    [Fact]
    public void Computed_a_block_of_rows_at_a_time_the_numbers_should_be_those_of_the_whole_distance_matrix()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(11, CPU);
        // Counts that are not multiples of the block (256), in 3-D, the generated side wider and shifted.
        var real = randn(600, 3, generator: generator);
        var fake = randn(700, 3, generator: generator) * 1.3 + 0.2;
        const int k = 5;
        Tensor Radii(Tensor f) => cdist(f, f).topk(k + 1, dim: 1, largest: false).values.select(1, k);
        var realRadii = Radii(real);
        var distances = cdist(fake, real);
        var inRealBall = distances.le(realRadii.unsqueeze(0));
        using var reference = Fidelity.Reference.Of(real, k);
        var blocked = Fidelity.Compute(fake, reference);
        Assert.Equal(inRealBall.any(1).to_type(ScalarType.Float64).mean().item<double>(), blocked.Precision, 12);
        Assert.Equal(inRealBall.to_type(ScalarType.Float64).sum().item<double>() / (k * 700.0), blocked.Density, 12);
        Assert.Equal(distances.min(0).values.le(realRadii).to_type(ScalarType.Float64).mean().item<double>(), blocked.Coverage, 12);
        Assert.Equal(distances.le(Radii(fake).unsqueeze(1)).any(0).to_type(ScalarType.Float64).mean().item<double>(), blocked.Recall, 12);
        Assert.True(blocked.Precision is > 0.05 and < 0.999 && blocked.Recall is > 0.05 and < 0.999, $"a case between the extremes: {blocked}");
    }
}
