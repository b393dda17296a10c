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

    /// <summary>
    /// The images' discriminator (<see cref="DcganDiscriminator"/> at its production width, made and initialised by
    /// <see cref="ModelFactory"/>) in float64, its optimizer with non-trivial moments, fixed real batches and an x_fake
    /// in (-1, 1), all drawn from one seeded generator (never torch's global one, which parallel specs share). The
    /// network has no batch norm and no dropout, so L(x) is deterministic and needs no train/eval switch for the
    /// differences to be well posed.
    /// </summary>
    private sealed class ImageFixture : IDisposable
    {
        private const int Batch = 4;
        private readonly IGanLoss _loss = GanLoss.Create(LossKind.NonSaturating);

        public ImageFixture(OptimizerKind kind, double learningRate, int steps)
        {
            var settings = new TrainingSettings { Dataset = DatasetKind.FashionMnist, Seed = 7 };
            Network = ModelFactory.CreateDiscriminator(settings, [1, 28, 28], 1.0, 0, CPU);
            Network.to(float64);
            Random = new Generator(5, CPU);
            Optimizer = new ExplicitOptimizer(Network.OrderedParameters, kind, learningRate, settings.Beta1, settings.Beta2);
            // Two optimizer steps give it moments and move the biases off their zero init, as after some training.
            for (var i = 0; i < 2; i++)
            {
                Optimizer.ZeroGrad();
                _loss.DiscriminatorLoss(Network.forward(Images(2 * Batch)), Network.forward(Images(2 * Batch))).backward();
                Optimizer.Step();
            }
            Real = [.. Enumerable.Range(0, steps).Select(_ => Images(Batch))];
            Fake = Images(Batch);
            Steps = steps;
        }

        public DiscriminatorNetwork Network { get; }
        public ExplicitOptimizer Optimizer { get; }
        public Generator Random { get; }
        public Tensor[] Real { get; }
        public Tensor Fake { get; }
        public int Steps { get; }

        private Tensor Images(int count) => randn([count, 1, 28, 28], float64, generator: Random).tanh();   // (N, 1, 28, 28) in (-1, 1)

        public (double Loss, Tensor Gradient) Run(Tensor fake, UnrollOrder order)
            => UnrolledLookahead.Run(Network, Optimizer, _loss, fake.detach().clone().requires_grad_(true), k => Real[k], Steps, order);

        public void Dispose()
        {
            Optimizer.Dispose();
            Network.Dispose();
            Random.Dispose();
        }
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, 1e-3)]   // the run's defaults: Adam, lr-d 1e-3, beta1 0.5, beta2 0.999
    [InlineData(OptimizerKind.Sgd, 0.1)]
    public void Second_order_gradient_through_the_image_discriminator_should_match_central_finite_differences(OptimizerKind kind, double learningRate)
    {
        using var f = new ImageFixture(kind, learningRate, steps: 3);   // K = 3 as the MLP spec: 18 lookaheads stay ~1 s
        var (loss, gradient) = f.Run(f.Fake, UnrollOrder.Second);
        var (firstLoss, firstOrder) = f.Run(f.Fake, UnrollOrder.First);
        // L(x) is one function in both orders (the order only decides what autograd differentiates), so the finite
        // differences evaluate it with the cheaper first-order lookahead (no double-backward graph).
        Assert.True(Math.Abs(loss - firstLoss) <= 1e-12 * Math.Abs(loss), $"second order L = {loss:R}, first order L = {firstLoss:R}");

        // Tolerance. Central differences err by rounding + truncation: |fd - dL/dx| <= delta / h + h^2 / 6 |L'''|, delta
        // the rounding error of one evaluation of L. We bound delta by the textbook worst case of a float64 sum,
        // n * eps * |L| with n = 2 * 64 * 7 * 7 = 6272 the longest reduction (the head's dot product; the K updates reduce
        // over shorter ones) and eps = 2^-52; with h = 1e-6 that is 6272 * 2.2e-16 * |L| / 1e-6 ~ 1.4e-6 |L|. h is that
        // small because L is only piecewise smooth: LeakyReLU kinks, and a kink crossed inside [x - h, x + h] (by x's
        // own pre-activations or, through the updated weights, by any of the K steps' ones) puts a slope jump into the
        // difference; the chance of one shrinks with h. At h = 1e-6 the truncation term stays under it for
        // |L'''| < 8e6 |L|, and the gradient's own rounding (autograd, ~eps relative) is far below.
        const double h = 1e-6;
        var longestSum = f.Network.OrderedParameters[^2].shape[1];   // the head's fan-in, 6272 at the production width
        var tolerance = longestSum * Math.Pow(2, -52) * Math.Max(1, Math.Abs(loss)) / h;

        using var coordinates = randint(0, f.Fake.numel(), [8], generator: f.Random, dtype: int64);
        var secondError = 0.0;
        var firstError = 0.0;
        var report = new List<string>();
        foreach (var i in coordinates.data<long>().ToArray())
        {
            using var plus = f.Fake.clone();
            using var minus = f.Fake.clone();
            plus.view(-1)[i] += h;
            minus.view(-1)[i] -= h;
            var numeric = (f.Run(plus, UnrollOrder.First).Loss - f.Run(minus, UnrollOrder.First).Loss) / (2 * h);
            var analytic = gradient.view(-1)[i].item<double>();
            var first = firstOrder.view(-1)[i].item<double>();
            secondError = Math.Max(secondError, Math.Abs(analytic - numeric));
            firstError = Math.Max(firstError, Math.Abs(first - numeric));
            report.Add($"x[{i}]: second {analytic:E6}, first {first:E6}, numeric {numeric:E6}");
        }
        var detail = string.Join("\n", report);
        Assert.True(secondError <= tolerance, $"second order is off by {secondError:E3} (tolerance {tolerance:E3}):\n{detail}");
        // The first-order gradient ignores the updates' dependence on x_fake: the check must be able to tell it apart.
        Assert.True(firstError > 10 * tolerance,
            $"the first-order gradient passes too ({firstError:E3}, tolerance {tolerance:E3}): the second-order path is missing or the check is blind:\n{detail}");
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
