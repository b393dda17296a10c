using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Losses;

/// <summary>
/// A GAN objective as a symmetric pair over discriminator logits: what D minimises on (real, fake) and what G
/// minimises on fake. Both return a scalar mean over the batch.
/// </summary>
public interface IGanLoss
{
    /// <summary>The discriminator's loss (a scalar) from its logits on a real and a fake batch.</summary>
    Tensor DiscriminatorLoss(Tensor realLogits, Tensor fakeLogits);
    /// <summary>The generator's loss (a scalar) from a discriminator's logits on the fake batch.</summary>
    Tensor GeneratorLoss(Tensor fakeLogits);
}

/// <summary>The loss pairs, chosen by <see cref="LossKind"/> in one switch.</summary>
public static class GanLoss
{
    /// <summary>The loss pair of <paramref name="kind"/>.</summary>
    public static IGanLoss Create(LossKind kind) => kind switch
    {
        LossKind.Minimax => new Minimax(),
        LossKind.NonSaturating => new NonSaturating(),
        LossKind.Wasserstein => new Wasserstein(),
        LossKind.Hinge => new Hinge(),
        LossKind.LeastSquares => new LeastSquares(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown loss"),
    };

    // -log sigmoid(x) = softplus(-x); -log(1 - sigmoid(x)) = softplus(x).
    private static Tensor BinaryDiscriminator(Tensor real, Tensor fake)
        => (-real).Softplus().mean().Plus(fake.Softplus().mean());

    /// <summary>Goodfellow et al.'s original game: G minimises log(1 - D(G(z))) = -softplus(fake logit).</summary>
    private sealed class Minimax : IGanLoss
    {
        public Tensor DiscriminatorLoss(Tensor realLogits, Tensor fakeLogits) => BinaryDiscriminator(realLogits, fakeLogits);
        public Tensor GeneratorLoss(Tensor fakeLogits) => -fakeLogits.Softplus().mean();
    }

    /// <summary>The "modified minimax" heuristic: G maximises log D(G(z)), i.e. minimises softplus(-fake logit).</summary>
    private sealed class NonSaturating : IGanLoss
    {
        public Tensor DiscriminatorLoss(Tensor realLogits, Tensor fakeLogits) => BinaryDiscriminator(realLogits, fakeLogits);
        public Tensor GeneratorLoss(Tensor fakeLogits) => (-fakeLogits).Softplus().mean();
    }

    /// <summary>WGAN: the critic maximises E[D(real)] - E[D(fake)]; needs clipping or a gradient penalty.</summary>
    private sealed class Wasserstein : IGanLoss
    {
        public Tensor DiscriminatorLoss(Tensor realLogits, Tensor fakeLogits) => fakeLogits.mean() - realLogits.mean();
        public Tensor GeneratorLoss(Tensor fakeLogits) => -fakeLogits.mean();
    }

    /// <summary>Hinge loss (SN-GAN, BigGAN): D on max(0, 1 - real) + max(0, 1 + fake); G on -fake.</summary>
    private sealed class Hinge : IGanLoss
    {
        public Tensor DiscriminatorLoss(Tensor realLogits, Tensor fakeLogits)
            => nn.functional.relu(realLogits.SubtractedFrom(1)).mean().Plus(nn.functional.relu(fakeLogits.Add(1)).mean());
        public Tensor GeneratorLoss(Tensor fakeLogits) => -fakeLogits.mean();
    }

    /// <summary>LSGAN with targets a=0 (fake), b=1 (real), c=1: 0.5 (D(real) - 1)^2 + 0.5 D(fake)^2; G on 0.5 (D(fake) - 1)^2.</summary>
    private sealed class LeastSquares : IGanLoss
    {
        public Tensor DiscriminatorLoss(Tensor realLogits, Tensor fakeLogits)
            => realLogits.Sub(1).Square().mean().Mul(0.5).Plus(fakeLogits.Square().mean().Mul(0.5));
        public Tensor GeneratorLoss(Tensor fakeLogits) => fakeLogits.Sub(1).Square().mean().Mul(0.5);
    }
}
