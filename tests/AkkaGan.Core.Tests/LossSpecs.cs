using AkkaGan.Core.Losses;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

public sealed class LossSpecs
{
    private static readonly double[] Real = [2.0, -1.0];
    private static readonly double[] Fake = [0.5, -3.0];

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    private static (double D, double G) Compute(LossKind kind)
    {
        var loss = GanLoss.Create(kind);
        using var real = tensor(Real, float64);
        using var fake = tensor(Fake, float64);
        return (loss.DiscriminatorLoss(real, fake).AsDouble(), loss.GeneratorLoss(fake).AsDouble());
    }

    [Fact]
    public void Minimax_should_match_the_hand_computed_values()
    {
        var (d, g) = Compute(LossKind.Minimax);
        var expectedD = -(Real.Average(r => Math.Log(Sigmoid(r))) + Fake.Average(f => Math.Log(1 - Sigmoid(f))));
        var expectedG = Fake.Average(f => Math.Log(1 - Sigmoid(f)));
        Assert.Equal(expectedD, d, 10);
        Assert.Equal(expectedG, g, 10);
    }

    [Fact]
    public void NonSaturating_should_share_D_with_minimax_and_maximise_log_D_for_G()
    {
        var (d, g) = Compute(LossKind.NonSaturating);
        Assert.Equal(Compute(LossKind.Minimax).D, d, 12);
        Assert.Equal(-Fake.Average(f => Math.Log(Sigmoid(f))), g, 10);
    }

    [Fact]
    public void Wasserstein_should_be_the_difference_of_means()
    {
        var (d, g) = Compute(LossKind.Wasserstein);
        Assert.Equal(Fake.Average() - Real.Average(), d, 12);
        Assert.Equal(-Fake.Average(), g, 12);
    }

    [Fact]
    public void Hinge_should_match_the_hand_computed_values()
    {
        var (d, g) = Compute(LossKind.Hinge);
        Assert.Equal(Real.Average(r => Math.Max(0, 1 - r)) + Fake.Average(f => Math.Max(0, 1 + f)), d, 12);
        Assert.Equal(-Fake.Average(), g, 12);
    }

    [Fact]
    public void LeastSquares_should_match_the_hand_computed_values()
    {
        var (d, g) = Compute(LossKind.LeastSquares);
        Assert.Equal(0.5 * Real.Average(r => (r - 1) * (r - 1)) + 0.5 * Fake.Average(f => f * f), d, 12);
        Assert.Equal(0.5 * Fake.Average(f => (f - 1) * (f - 1)), g, 12);
    }

    [Fact]
    public void NonSaturating_should_give_the_generator_a_larger_gradient_than_minimax_when_D_rejects_fakes()
    {
        // The reason the heuristic exists: with D(G(z)) near 0, minimax's gradient vanishes.
        double Gradient(LossKind kind)
        {
            using var fake = tensor(new[] { -8.0 }, float64).requires_grad_(true);
            GanLoss.Create(kind).GeneratorLoss(fake).backward();
            return Math.Abs(fake.grad!.AsDouble());
        }
        Assert.True(Gradient(LossKind.NonSaturating) > 100 * Gradient(LossKind.Minimax));
    }
}
