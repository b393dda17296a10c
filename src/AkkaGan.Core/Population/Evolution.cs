using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Population;

/// <summary>
/// Population fitness and exploit/explore. Fitness of a discriminator = the AUC with which it ranks real above fake
/// samples on a shared evaluation batch: P(D(real) > D(fake)) + 0.5 P(equal). The AUC depends only on the ordering of
/// logits, so critics with different losses (a WGAN critic's unbounded scores, a sigmoid classifier's logits) are
/// compared on one scale; 0.5 is a critic that cannot tell, 1.0 one that separates perfectly.
/// </summary>
public static class Evolution
{
    /// <summary>AUC of real logits (N) against fake logits (M).</summary>
    public static double Auc(Tensor realLogits, Tensor fakeLogits)
    {
        using var scope = NewDisposeScope();
        var r = realLogits.detach().to(float64).reshape(-1, 1);  // (N, 1)
        var f = fakeLogits.detach().to(float64).reshape(1, -1);  // (1, M)
        var greater = gt(r, f).to(float64).mean();
        var equal = eq(r, f).to(float64).mean();
        return greater.Plus(equal.Mul(0.5)).item<double>();
    }

    /// <summary>The (best, worst) members by fitness; ties go to the lower member id for best and higher for worst.</summary>
    public static (int Best, int Worst) Rank(IReadOnlyDictionary<int, double> fitness)
    {
        var ordered = fitness.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).ToArray();
        return (ordered[0].Key, ordered[^1].Key);
    }

    /// <summary>The uniform draw in [0, 1) that decides the explore direction of an evolution at a round.</summary>
    public static double Uniform(long baseSeed, long round)
    {
        using var scope = NewDisposeScope();
        using var generator = Seeds.Generator(baseSeed, round, SeedRole.Coordinator, 0, SeedPurpose.Evolution);
        return rand([1], generator: generator).item<float>();
    }

    /// <summary>The explore step: the copied learning rate times (1 - p) or (1 + p), chosen by one uniform draw.</summary>
    public static double PerturbLearningRate(double learningRate, double perturbation, double uniform)
        => learningRate * (uniform < 0.5 ? 1 - perturbation : 1 + perturbation);
}
