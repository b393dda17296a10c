namespace AkkaGan.Core.Metrics;

/// <summary>Mode coverage and quality of 2-D samples against a Gaussian mixture, as VEEGAN and PacGAN define them.</summary>
/// <param name="ModesCaptured">Modes that are the nearest centre of at least one high-quality sample.</param>
/// <param name="HighQualityFraction">Share of samples within 3 std of their nearest centre.</param>
/// <param name="ReverseKl">sum_k q_k log(K q_k), q_k = share of all samples whose nearest centre is k (0 log 0 = 0).</param>
/// <param name="Modes">K, the number of mixture components.</param>
public sealed record MixtureMetrics(int ModesCaptured, double HighQualityFraction, double ReverseKl, int Modes)
{
    /// <summary>Computes the metrics of samples (x, y pairs) against the mixture's centres and std.</summary>
    public static MixtureMetrics Compute(IReadOnlyList<(double X, double Y)> samples, IReadOnlyList<(double X, double Y)> centres, double std)
    {
        if (samples.Count == 0) throw new ArgumentException("no samples", nameof(samples));
        var k = centres.Count;
        var counts = new int[k];
        var captured = new bool[k];
        var highQuality = 0;
        var threshold = 3 * std;
        foreach (var (x, y) in samples)
        {
            var nearest = 0;
            var best = double.PositiveInfinity;
            for (var c = 0; c < k; c++)
            {
                var (dx, dy) = (x - centres[c].X, y - centres[c].Y);
                var d = dx * dx + dy * dy;
                if (d < best) { best = d; nearest = c; }
            }
            if (double.IsNaN(x) || double.IsNaN(y)) continue; // a NaN sample is nowhere: not counted for any mode
            counts[nearest]++;
            if (Math.Sqrt(best) < threshold)
            {
                highQuality++;
                captured[nearest] = true;
            }
        }
        var kl = 0.0;
        for (var c = 0; c < k; c++)
        {
            if (counts[c] == 0) continue;
            var q = (double)counts[c] / samples.Count;
            kl += q * Math.Log(k * q);
        }
        return new MixtureMetrics(captured.Count(b => b), (double)highQuality / samples.Count, kl, k);
    }
}
