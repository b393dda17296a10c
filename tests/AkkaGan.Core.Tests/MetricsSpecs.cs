using AkkaGan.Core.Data;
using AkkaGan.Core.Metrics;

namespace AkkaGan.Core.Tests;

public sealed class MetricsSpecs
{
    private static readonly GaussianMixture Ring = GaussianMixture.Ring8();

    [Fact]
    public void Samples_on_every_centre_equally_should_capture_all_modes_with_zero_kl()
    {
        var samples = Enumerable.Range(0, 2496).Select(i => Ring.Centres[i % 8]).ToArray();
        var m = MixtureMetrics.Compute(samples, Ring.Centres, Ring.Std);
        Assert.Equal(8, m.ModesCaptured);
        Assert.Equal(1.0, m.HighQualityFraction);
        Assert.Equal(0.0, m.ReverseKl, 12);
    }

    [Fact]
    public void A_collapsed_generator_should_capture_one_mode_with_kl_log_8()
    {
        var samples = Enumerable.Repeat((Ring.Centres[3].X + 0.005, Ring.Centres[3].Y), 2500).ToArray();
        var m = MixtureMetrics.Compute(samples, Ring.Centres, Ring.Std);
        Assert.Equal(1, m.ModesCaptured);
        Assert.Equal(1.0, m.HighQualityFraction);
        Assert.Equal(Math.Log(8), m.ReverseKl, 12);
    }

    [Fact]
    public void Samples_beyond_three_std_should_be_low_quality_and_capture_nothing()
    {
        // 0.031 from each centre: just outside 3 std (0.03), still nearest to that centre.
        var samples = Enumerable.Range(0, 800).Select(i => (Ring.Centres[i % 8].X + 0.031, Ring.Centres[i % 8].Y)).ToArray();
        var m = MixtureMetrics.Compute(samples, Ring.Centres, Ring.Std);
        Assert.Equal(0, m.ModesCaptured);
        Assert.Equal(0.0, m.HighQualityFraction);
        Assert.Equal(0.0, m.ReverseKl, 12); // KL counts all samples by nearest centre, quality aside
    }

    [Fact]
    public void Mixed_sets_should_count_modes_quality_and_kl_as_defined()
    {
        // 3/4 of the samples exactly on mode 0, 1/4 at the origin (nearest centre: mode 0 by tie order, low quality).
        var samples = Enumerable.Repeat(Ring.Centres[0], 300).Concat(Enumerable.Repeat(Ring.Centres[4], 100))
            .Concat(Enumerable.Repeat((0.0, 0.0), 0)).ToArray();
        var m = MixtureMetrics.Compute(samples, Ring.Centres, Ring.Std);
        Assert.Equal(2, m.ModesCaptured);
        Assert.Equal(1.0, m.HighQualityFraction);
        Assert.Equal(0.75 * Math.Log(8 * 0.75) + 0.25 * Math.Log(8 * 0.25), m.ReverseKl, 12);
        var withFar = samples.Concat(Enumerable.Repeat((0.0, 0.0), 400)).ToArray();
        Assert.Equal(0.5, MixtureMetrics.Compute(withFar, Ring.Centres, Ring.Std).HighQualityFraction);
    }
}
