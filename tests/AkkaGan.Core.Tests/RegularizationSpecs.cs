using AkkaGan.Core.Regularization;
using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

public sealed class RegularizationSpecs
{
    // A linear critic D(x) = w . x has grad_x D = w everywhere, so every penalty has a closed form.
    private static readonly double[] W = [3.0, 4.0]; // |w| = 5

    private static Func<Tensor, Tensor> LinearCritic(Tensor w) => x => x.matmul(w);

    private static double Penalty(DiscriminatorRegularization reg)
    {
        using var w = tensor(W, float64);
        using var real = tensor(new[] { 1.0, 2.0, -1.0, 0.5 }, [2, 2], float64);
        using var fake = tensor(new[] { 0.0, 1.0, 2.0, 2.0 }, [2, 2], float64);
        using var generator = new Generator(1, CPU);
        return reg.Penalty(LinearCritic(w), [w], real, fake, generator)!.AsDouble();
    }

    [Fact]
    public void GradientPenalty_should_be_lambda_times_squared_distance_of_the_gradient_norm_from_one()
        => Assert.Equal(10 * Math.Pow(5 - 1, 2), Penalty(new DiscriminatorRegularization(0, gradientPenalty: 10, 0, 0, 0, 0)), 9);

    [Fact]
    public void R1_should_be_half_gamma_times_the_squared_gradient_norm_on_real_data()
        => Assert.Equal(0.5 * 2 * 25, Penalty(new DiscriminatorRegularization(0, 0, r1Gamma: 2, 0, 0, 0)), 9);

    [Fact]
    public void L2_should_be_mu_times_the_sum_of_squared_weights()
        => Assert.Equal(0.1 * 25, Penalty(new DiscriminatorRegularization(0, 0, 0, l2Penalty: 0.1, 0, 0)), 9);

    [Fact]
    public void Penalties_should_add_up_and_be_absent_when_all_are_off()
    {
        Assert.Equal(10 * 16 + 25 + 2.5, Penalty(new DiscriminatorRegularization(0, 10, 2, 0.1, 0, 0)), 9);
        using var w = tensor(W, float64);
        using var x = zeros(2, 2, float64);
        using var generator = new Generator(1, CPU);
        Assert.Null(new DiscriminatorRegularization(0, 0, 0, 0, 0, 0).Penalty(LinearCritic(w), [w], x, x, generator));
    }

    [Fact]
    public void Clip_should_clamp_every_weight_into_the_bound()
    {
        using var w = tensor(new[] { -0.5f, 0.005f, 0.3f });
        new DiscriminatorRegularization(clipValue: 0.01, 0, 0, 0, 0, 0).Clip([w]);
        Assert.Equal([-0.01f, 0.005f, 0.01f], w.data<float>().ToArray());
    }

    [Fact]
    public void InstanceNoise_should_anneal_linearly_to_zero()
    {
        var reg = new DiscriminatorRegularization(0, 0, 0, 0, instanceNoise: 0.2, instanceNoiseAnneal: 100);
        Assert.Equal(0.2, reg.NoiseStd(0), 12);
        Assert.Equal(0.1, reg.NoiseStd(50), 12);
        Assert.Equal(0.0, reg.NoiseStd(100), 12);
        Assert.Equal(0.0, reg.NoiseStd(1000), 12);
        Assert.Equal(0.2, new DiscriminatorRegularization(0, 0, 0, 0, 0.2, 0).NoiseStd(1000), 12);
    }

    [Fact]
    public void InstanceNoise_should_perturb_inputs_with_the_scheduled_std()
    {
        var reg = new DiscriminatorRegularization(0, 0, 0, 0, instanceNoise: 0.5, instanceNoiseAnneal: 0);
        using var x = zeros(20000, 2);
        using var generator = new Generator(3, CPU);
        using var noisy = reg.AddNoise(x, 10, generator);
        Assert.Equal(0.5, noisy.std().AsDouble(), 2);
        var off = new DiscriminatorRegularization(0, 0, 0, 0, 0, 0);
        Assert.Same(x, off.AddNoise(x, 10, generator));
    }
}
