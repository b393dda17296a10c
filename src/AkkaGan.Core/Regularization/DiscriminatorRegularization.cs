using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Regularization;

/// <summary>
/// The discriminator regularizers of a run: differentiable penalties added to D's loss (WGAN-GP gradient penalty,
/// R1, L2 weight penalty), the post-step weight clipping of WGAN, and annealed instance noise on D's inputs.
/// Each is off at weight 0; several may be on at once.
/// </summary>
public sealed class DiscriminatorRegularization
{
    /// <summary>A discriminator's regularizers; each 0 is off.</summary>
    public DiscriminatorRegularization(double clipValue, double gradientPenalty, double r1Gamma, double l2Penalty,
        double instanceNoise, int instanceNoiseAnneal)
    {
        ClipValue = clipValue;
        GradientPenalty = gradientPenalty;
        R1Gamma = r1Gamma;
        L2Penalty = l2Penalty;
        InstanceNoise = instanceNoise;
        InstanceNoiseAnneal = instanceNoiseAnneal;
    }

    /// <summary>The regularizers of settings <paramref name="s"/> (a member's, with its overrides applied).</summary>
    public static DiscriminatorRegularization From(TrainingSettings s)
        => new(s.ClipValue, s.GradientPenalty, s.R1Gamma, s.L2Penalty, s.InstanceNoise, s.InstanceNoiseAnneal);

    /// <summary>Weights are clipped to [-C, C] after each step (WGAN).</summary>
    public double ClipValue { get; }
    /// <summary>WGAN-GP's weight on (|grad D| - 1)^2 at interpolates.</summary>
    public double GradientPenalty { get; }
    /// <summary>R1's weight on |grad D(real)|^2 (halved, as in Mescheder et al.).</summary>
    public double R1Gamma { get; }
    /// <summary>The L2 weight penalty.</summary>
    public double L2Penalty { get; }
    /// <summary>Std of the Gaussian noise added to every input.</summary>
    public double InstanceNoise { get; }
    /// <summary>Rounds over which the instance noise decays linearly to 0 (0: constant).</summary>
    public int InstanceNoiseAnneal { get; }

    /// <summary>Instance-noise std at a round: linear decay from the initial std to 0 over the anneal rounds.</summary>
    public double NoiseStd(long round)
    {
        if (InstanceNoise <= 0) return 0;
        if (InstanceNoiseAnneal <= 0) return InstanceNoise;
        return InstanceNoise * Math.Max(0.0, 1.0 - (double)round / InstanceNoiseAnneal);
    }

    /// <summary>Adds N(0, std^2) instance noise drawn from <paramref name="generator"/>; returns the input when off.</summary>
    public Tensor AddNoise(Tensor input, long round, Generator generator)
    {
        var std = NoiseStd(round);
        if (std <= 0) return input;
        return input.Plus(randn(input.shape, generator: generator).to_type(input.dtype).to(input.device).Mul(std));
    }

    /// <summary>
    /// The sum of the active penalties for one discriminator step: lambda E[(||grad D(x_hat)|| - 1)^2] on random
    /// interpolates x_hat (WGAN-GP), gamma/2 E[||grad D(x_real)||^2] (R1), and mu * sum w^2 (L2). Null when none is on.
    /// With packing (<paramref name="pack"/> samples per logit) the norms are per pack: over the pack's inputs together.
    /// </summary>
    public Tensor? Penalty(Func<Tensor, Tensor> discriminator, IReadOnlyList<Tensor> weights, Tensor real, Tensor fake, Generator generator, int pack = 1)
    {
        Tensor? total = null;
        if (GradientPenalty > 0)
        {
            var shape = new long[real.dim()];
            Array.Fill(shape, 1L);
            shape[0] = real.shape[0];
            var alpha = rand(shape, generator: generator).to_type(real.dtype).to(real.device);                // (N, 1, ..)
            var interpolate = (alpha * real.detach()).Plus(alpha.SubtractedFrom(1) * fake.detach()).requires_grad_(true);
            var gradient = InputGradient(discriminator, interpolate);
            var norm = gradient.reshape(gradient.shape[0] / pack, -1).norm(1);                      // (N / pack)
            total = Add(total, norm.Sub(1).Square().mean().Mul(GradientPenalty));
        }
        if (R1Gamma > 0)
        {
            var realLeaf = real.detach().requires_grad_(true);
            var gradient = InputGradient(discriminator, realLeaf);
            total = Add(total, gradient.reshape(gradient.shape[0] / pack, -1).Square().sum(1).mean().Mul(0.5 * R1Gamma));
        }
        if (L2Penalty > 0)
        {
            Tensor sum = weights[0].Square().sum();
            for (var i = 1; i < weights.Count; i++) sum = sum.Plus(weights[i].Square().sum());
            total = Add(total, sum.Mul(L2Penalty));
        }
        return total;
    }

    /// <summary>WGAN weight clipping: clamps every weight to [-c, c] in place (no-op when off).</summary>
    public void Clip(IEnumerable<Tensor> parameters)
    {
        if (ClipValue <= 0) return;
        using var noGrad = no_grad();
        foreach (var p in parameters) p.ClampInPlace(-ClipValue, ClipValue);
    }

    private static Tensor InputGradient(Func<Tensor, Tensor> discriminator, Tensor input)
    {
        var output = discriminator(input);
        return autograd.grad([output.sum()], [input], create_graph: true, retain_graph: true)[0];
    }

    private static Tensor Add(Tensor? total, Tensor term) => total is null ? term : total.Plus(term);
}
