using AkkaGan.Core.Losses;
using AkkaGan.Core.Models;
using AkkaGan.Core.Optim;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Unrolling;
using TorchSharp;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

public sealed class UnrollingSpecs
{
    /// <summary>A tiny float64 discriminator with deterministic weights, its optimizer and fixed real batches.</summary>
    private sealed class Fixture : IDisposable
    {
        public Fixture(OptimizerKind kind, double learningRate)
        {
            random.manual_seed(42);
            Network = new MlpDiscriminator(2, 6, 1, 1.0);
            Network.to(float64);
            Optimizer = new ExplicitOptimizer(Network.OrderedParameters, kind, learningRate, 0.5, 0.999);
            // Give the optimizer non-trivial moments, as after some training.
            for (var i = 0; i < 2; i++)
            {
                Optimizer.ZeroGrad();
                Network.forward(randn(16, 2, float64)).square().mean().backward();
                Optimizer.Step();
            }
            Real = Enumerable.Range(0, 5).Select(_ => randn(8, 2, float64)).ToArray();
            Fake = randn(8, 2, float64);
        }

        public MlpDiscriminator Network { get; }
        public ExplicitOptimizer Optimizer { get; }
        public Tensor[] Real { get; }
        public Tensor Fake { get; }

        public (double Loss, Tensor Gradient) Run(Tensor fake, int steps, UnrollOrder order)
            => UnrolledLookahead.Run(Network, Optimizer, GanLoss.Create(LossKind.NonSaturating), fake.detach().clone().requires_grad_(true),
                k => Real[k], steps, order);

        public void Dispose()
        {
            Optimizer.Dispose();
            Network.Dispose();
        }
    }

    [Fact]
    public void Lookahead_with_zero_steps_should_equal_the_plain_generator_gradient_exactly()
    {
        using var f = new Fixture(OptimizerKind.Adam, 0.01);
        var (_, unrolled) = f.Run(f.Fake, 0, UnrollOrder.Second);
        using var leaf = f.Fake.detach().clone().requires_grad_(true);
        var plain = autograd.grad([GanLoss.Create(LossKind.NonSaturating).GeneratorLoss(f.Network.forward(leaf))], [leaf])[0];
        Assert.True(unrolled.equal(plain).all().item<bool>());
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, 0.05)]
    [InlineData(OptimizerKind.Sgd, 0.5)]
    public void Second_order_gradient_should_match_central_finite_differences(OptimizerKind kind, double learningRate)
    {
        using var f = new Fixture(kind, learningRate);
        const int steps = 3;
        var (_, gradient) = f.Run(f.Fake, steps, UnrollOrder.Second);
        var numeric = zeros_like(f.Fake);
        const double h = 1e-6;
        for (var i = 0; i < f.Fake.shape[0]; i++)
            for (var j = 0; j < f.Fake.shape[1]; j++)
            {
                using var plus = f.Fake.clone();
                using var minus = f.Fake.clone();
                plus[i, j] += h;
                minus[i, j] -= h;
                numeric[i, j] = (f.Run(plus, steps, UnrollOrder.Second).Loss - f.Run(minus, steps, UnrollOrder.Second).Loss) / (2 * h);
            }
        var relative = ((gradient - numeric).norm() / numeric.norm()).item<double>();
        Assert.True(relative < 1e-3, $"relative error {relative}");

        // The first-order gradient ignores the updates' dependence on x_fake, so it must differ measurably.
        var (_, firstOrder) = f.Run(f.Fake, steps, UnrollOrder.First);
        var difference = ((firstOrder - gradient).norm() / gradient.norm()).item<double>();
        Assert.True(difference > 1e-3, $"first and second order agree to {difference}: the second-order path is missing");
    }

    [Fact]
    public void Lookahead_should_leave_the_real_weights_and_optimizer_state_unchanged()
    {
        using var f = new Fixture(OptimizerKind.Adam, 0.05);
        var before = f.Network.OrderedParameters.Select(p => p.detach().clone()).ToArray();
        var moments = f.Optimizer.FirstMoments.Concat(f.Optimizer.SecondMoments).Select(m => m.clone()).ToArray();
        var steps = f.Optimizer.Steps;
        f.Optimizer.ZeroGrad();
        f.Run(f.Fake, 5, UnrollOrder.Second);
        f.Run(f.Fake, 5, UnrollOrder.First);
        for (var i = 0; i < before.Length; i++) Assert.True(before[i].equal(f.Network.OrderedParameters[i]).all().item<bool>());
        var after = f.Optimizer.FirstMoments.Concat(f.Optimizer.SecondMoments).ToArray();
        for (var i = 0; i < moments.Length; i++) Assert.True(moments[i].equal(after[i]).all().item<bool>());
        Assert.Equal(steps, f.Optimizer.Steps);
        Assert.All(f.Network.OrderedParameters, p => Assert.True(p.grad is null || p.grad.abs().sum().item<double>() == 0));
    }

    [Fact]
    public void Functional_forward_should_equal_the_module_forward_for_both_discriminators()
    {
        random.manual_seed(3);
        using var mlp = new MlpDiscriminator(2, 16, 2, 0.25);
        using var x = randn(10, 2);
        Assert.True(mlp.forward(x).equal(mlp.Functional(x, [.. mlp.OrderedParameters.Select(p => (Tensor)p.detach().clone())])).all().item<bool>());
        using var dcgan = new DcganDiscriminator(3, width: 8);
        using var images = randn(4, 3, 28, 28);
        var functional = dcgan.Functional(images, [.. dcgan.OrderedParameters.Select(p => (Tensor)p.detach().clone())]);
        Assert.True(dcgan.forward(images).allclose(functional, rtol: 0, atol: 0));
        Assert.Equal([4L], functional.shape);
        Assert.Equal(dcgan.parameters().Count(), dcgan.OrderedParameters.Count);
    }
}
