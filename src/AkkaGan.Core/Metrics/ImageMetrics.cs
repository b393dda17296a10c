using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Metrics;

/// <summary>
/// Classifier-based metrics of generated images. Fashion-MNIST: the class of each sample; Stacked Fashion-MNIST: the
/// class triplet of its three channels (the Stacked-MNIST protocol of VEEGAN/PacGAN, 1000 modes, 26,000 samples).
/// </summary>
/// <param name="Modes">10 classes, or 1000 triplets.</param>
/// <param name="ModesCovered">Modes with at least one sample.</param>
/// <param name="KlToUniform">KL(p || uniform) = sum_k p_k log(K p_k), p the histogram of predicted modes (0 log 0 = 0).</param>
/// <param name="Fcd">
/// Frechet distance between Gaussians fitted to the evaluation classifier's penultimate features of real and
/// generated images ("FCD"; per-channel features concatenated for stacked images). Not Inception FID: the numbers
/// are only comparable with other FCDs of the same classifier and sample count.
/// </param>
/// <param name="Samples">Generated images the histogram counts.</param>
/// <param name="ModeCounts">Samples per mode (length <paramref name="Modes"/>).</param>
public sealed record ImageMetrics(int Modes, int ModesCovered, double KlToUniform, double Fcd, int Samples, IReadOnlyList<int> ModeCounts)
{
    /// <summary>Histogram of mode labels (N) int64 in [0, modes).</summary>
    public static int[] Histogram(Tensor labels, int modes)
    {
        using var scope = NewDisposeScope();
        var values = labels.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        var counts = new int[modes];
        foreach (var v in values)
        {
            if (v < 0 || v >= modes) throw new ArgumentOutOfRangeException(nameof(labels), v, $"label outside [0, {modes})");
            counts[v]++;
        }
        return counts;
    }

    /// <summary>Modes with at least one sample, and KL(histogram || uniform over all modes).</summary>
    public static (int Covered, double Kl) Coverage(IReadOnlyList<int> counts)
    {
        var total = counts.Sum(c => (long)c);
        if (total == 0) throw new ArgumentException("empty histogram", nameof(counts));
        var kl = 0.0;
        foreach (var c in counts)
        {
            if (c == 0) continue;
            var p = (double)c / total;
            kl += p * Math.Log(counts.Count * p);
        }
        return (counts.Count(c => c > 0), kl);
    }

    /// <summary>
    /// Frechet distance between N(mu_a, S_a) and N(mu_b, S_b) fitted to feature rows (N, D):
    /// |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)). Computed in float64; the trace of the matrix
    /// square root is the sum of the square roots of the eigenvalues of S_a^(1/2) S_b S_a^(1/2), a symmetric
    /// positive semi-definite matrix with the same spectrum as S_a S_b, so only symmetric eigen-decompositions
    /// (eigh) are needed and rounding can neither create complex values nor NaN (negative round-off is clamped to 0).
    /// </summary>
    public static double FrechetDistance(Tensor featuresA, Tensor featuresB)
    {
        using var scope = NewDisposeScope();
        return FrechetDistance(Moments(featuresA), Moments(featuresB));
    }

    /// <summary>The Frechet distance of two Gaussians given as (mean (D), covariance (D, D)); see the overload on features.</summary>
    public static double FrechetDistance((Tensor Mean, Tensor Covariance) a, (Tensor Mean, Tensor Covariance) b)
    {
        using var scope = NewDisposeScope();
        var rootA = SymmetricSqrt(a.Covariance);                             // (D, D)
        var middle = rootA.matmul(b.Covariance).matmul(rootA);               // (D, D), S_a^(1/2) S_b S_a^(1/2)
        middle = middle.Plus(middle.T).Div(2);                                   // symmetric up to round-off; make it exact
        var traceRoot = linalg.eigvalsh(middle).ClampMin(0).sqrt().sum();
        var distance = (a.Mean - b.Mean).Square().sum().Plus(a.Covariance.trace()).Plus(b.Covariance.trace()) - traceRoot.Mul(2);
        return Math.Max(0, distance.item<double>());
    }

    /// <summary>Mean (D) and unbiased covariance (D, D) of feature rows (N, D), in float64.</summary>
    public static (Tensor Mean, Tensor Covariance) Moments(Tensor features)
    {
        if (features.dim() != 2 || features.shape[0] < 2) throw new ArgumentException($"features must be (N >= 2, D), got [{string.Join(", ", features.shape)}]", nameof(features));
        using var scope = NewDisposeScope();
        var x = features.to_type(ScalarType.Float64);
        var mean = x.mean([0]);                                              // (D)
        var centred = x - mean;                                              // (N, D)
        var covariance = centred.T.matmul(centred).Div(x.shape[0] - 1);      // (D, D)
        return (mean.MoveToOuterDisposeScope(), covariance.MoveToOuterDisposeScope());
    }

    /// <summary>The principal square root of a symmetric positive semi-definite matrix: V diag(sqrt(max(l, 0))) V^T.</summary>
    public static Tensor SymmetricSqrt(Tensor matrix)
    {
        using var scope = NewDisposeScope();
        var (values, vectors) = linalg.eigh(matrix.Plus(matrix.T).Div(2));
        return vectors.matmul(diag(values.ClampMin(0).sqrt())).matmul(vectors.T).MoveToOuterDisposeScope();
    }
}
