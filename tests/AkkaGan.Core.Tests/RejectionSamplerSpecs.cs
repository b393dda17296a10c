using AkkaGan.Core.Data;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Metrics;
using AkkaGan.Core.Models;
using AkkaGan.Core.Settings;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>
/// Discriminator rejection sampling (<c>rejection-sampling</c>): a discriminator fitted to a generator that puts a
/// tenth of its samples off the data rejects most of those, keeps the modes, draws the same samples again from the same
/// networks and seed, and says what went wrong when it cannot.
/// </summary>
public sealed class RejectionSamplerSpecs
{
    private const int Latent = 8;
    private static readonly GaussianMixture Ring = GaussianMixture.Ring8();
    private static readonly TrainingSettings Settings = new() { Dataset = DatasetKind.Ring8, HiddenUnits = 64 };

    /// <summary>
    /// A stand-in generator: nine samples in ten (z0 below its 90th percentile) on one of ring8's modes with its std, the
    /// tenth spread over the square [-1.5, 1.5]^2 where the data has almost no mass.
    /// </summary>
    private static Tensor Generate(Tensor z)
    {
        using var scope = NewDisposeScope();
        var mode = ((erf(z[.., 3] / Math.Sqrt(2)) + 1) * 4).floor().clamp(0, 7);                    // (N) mode index, uniform
        var angle = mode * (2 * Math.PI / 8);
        var onMode = stack([cos(angle), sin(angle)], 1) + z[.., 4..6] * Ring.Std;                 // (N, 2)
        var off = tanh(z[.., 1..3]) * 1.5;                                                          // (N, 2)
        var isOff = z[.., 0].gt(1.2816).unsqueeze(1);
        return where(isOff, off, onMode).to(float32).MoveToOuterDisposeScope();
    }

    private static MixtureMetrics Metrics(Tensor samples)
    {
        var values = samples.data<float>().ToArray();
        return MixtureMetrics.Compute([.. Enumerable.Range(0, values.Length / 2).Select(i => ((double)values[2 * i], (double)values[2 * i + 1]))], Ring.Centres, Ring.Std);
    }

    [Fact]
    public void A_discriminator_fitted_to_the_generator_should_reject_most_samples_off_the_data_and_keep_every_mode()
    {
        using var scope = NewDisposeScope();
        using var noise = new TorchSharp.torch.Generator(7, CPU);
        var plain = Metrics(Generate(randn([2500, Latent], generator: noise)));
        Assert.InRange(plain.HighQualityFraction, 0.85, 0.95);   // the stand-in's tenth off the modes

        using var critic = RejectionSampler.Calibrate(Settings, Ring, Latent, Generate, CPU, steps: 1000);
        var result = RejectionSampler.Sample(Latent, Generate, critic, seed: 3, count: 2500, Settings.RejectionPercentile);
        var kept = Metrics(result.Samples);
        Assert.Equal(2500, result.Samples.shape[0]);
        Assert.Equal(8, kept.ModesCaptured);
        // Off the modes: a tenth before, under a third of that after.
        Assert.True(1 - kept.HighQualityFraction < (1 - plain.HighQualityFraction) / 3,
            $"high-quality fraction {plain.HighQualityFraction:F3} -> {kept.HighQualityFraction:F3}");
        // The modes keep their shares up to the fitted network's errors (PacGAN's protocol calls a reverse KL of 0.07 good).
        Assert.True(kept.ReverseKl < plain.ReverseKl + 0.1, $"reverse KL {plain.ReverseKl:F3} -> {kept.ReverseKl:F3}");
        Assert.InRange(result.AcceptanceRate, 0.05, 1);
        Assert.True(result.Candidates >= RejectionSampler.BurnIn + 2500, result.ToString());
    }

    [Fact]
    public void The_same_networks_and_seed_should_draw_the_same_samples_and_another_seed_others()
    {
        using var scope = NewDisposeScope();
        using var critic = ModelFactory.CreateDiscriminator(Settings, [2], ModelFactory.InputScale(Ring), 0, CPU);
        var a = RejectionSampler.Sample(Latent, Generate, critic, seed: 5, count: 300, Settings.RejectionPercentile);
        var b = RejectionSampler.Sample(Latent, Generate, critic, seed: 5, count: 300, Settings.RejectionPercentile);
        var c = RejectionSampler.Sample(Latent, Generate, critic, seed: 6, count: 300, Settings.RejectionPercentile);
        Assert.Equal(a.Samples.data<float>().ToArray(), b.Samples.data<float>().ToArray());
        Assert.Equal(a.Candidates, b.Candidates);
        Assert.NotEqual(a.Samples.data<float>().ToArray(), c.Samples.data<float>().ToArray());
    }

    [Fact]
    public void It_should_say_how_many_candidates_it_accepted_when_they_are_too_few_and_refuse_a_packing_discriminator()
    {
        using var scope = NewDisposeScope();
        using var critic = ModelFactory.CreateDiscriminator(Settings, [2], ModelFactory.InputScale(Ring), 0, CPU);
        // One candidate per sample asked for cannot be enough: the acceptance test keeps a share of them.
        var few = Assert.Throws<InvalidOperationException>(() => RejectionSampler.Sample(Latent, Generate, critic, seed: 5, count: 2500, Settings.RejectionPercentile, maxCandidatesPerSample: 1));
        Assert.Matches(@"accepted \d+ of 2500 candidates, fewer than the 2500 samples asked for", few.Message);

        using var packed = ModelFactory.CreateDiscriminator(Settings with { Pack = 2 }, [2], ModelFactory.InputScale(Ring), 0, CPU);
        var error = Assert.Throws<ArgumentException>(() => RejectionSampler.Sample(Latent, Generate, packed, seed: 5, count: 10, Settings.RejectionPercentile));
        Assert.Contains("packs 2", error.Message);
    }

    [Fact]
    public void A_higher_percentile_should_accept_fewer_candidates()
    {
        // The same candidates and uniform draws: a higher gamma lowers every candidate's acceptance probability.
        using var scope = NewDisposeScope();
        using var critic = ModelFactory.CreateDiscriminator(Settings, [2], ModelFactory.InputScale(Ring), 0, CPU);
        var strict = RejectionSampler.Sample(Latent, Generate, critic, seed: 5, count: 200, percentile: 99);
        var loose = RejectionSampler.Sample(Latent, Generate, critic, seed: 5, count: 200, percentile: 50);
        Assert.True(strict.AcceptanceRate < loose.AcceptanceRate, $"acceptance {strict.AcceptanceRate:F3} at 99, {loose.AcceptanceRate:F3} at 50");
        Assert.Throws<ArgumentOutOfRangeException>(() => RejectionSampler.Sample(Latent, Generate, critic, seed: 5, count: 200, percentile: 100));
    }

    [Theory]
    [InlineData(0, 80, "rejection-steps")]
    [InlineData(10, 0, "rejection-percentile")]
    [InlineData(10, 100, "rejection-percentile")]
    [InlineData(10, double.NaN, "rejection-percentile")]
    public void Rejection_steps_below_one_or_a_percentile_outside_0_to_100_should_be_refused_naming_the_key(int steps, double percentile, string key)
    {
        var error = Assert.Throws<SettingsException>(() => new TrainingSettings { RejectionSteps = steps, RejectionPercentile = percentile }.Validate());
        Assert.Contains(key, error.Message);
    }
}
