using AkkaGan.Core.Data;
using AkkaGan.Core.Losses;
using AkkaGan.Core.Models;
using AkkaGan.Core.Optim;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Evaluation;

/// <summary>What a rejection-sampling pass did: the samples it kept and what it took to get them.</summary>
/// <param name="Samples">The accepted samples (count, ...), on the CPU; the caller disposes them.</param>
/// <param name="Candidates">Samples the generator made for the acceptance test (the burn-in included).</param>
/// <param name="AcceptanceRate">Share of the candidates after the burn-in that were accepted.</param>
public sealed record RejectionResult(Tensor Samples, long Candidates, double AcceptanceRate);

/// <summary>
/// Discriminator rejection sampling (Azadi et al., "Discriminator Rejection Sampling", ICLR 2019). A discriminator
/// trained to optimality with the logistic loss has the logit D(x) = log p_data(x) / p_g(x), so accepting a generated
/// x with probability proportional to exp(D(x)) draws from p_data where that estimate holds. The training's own
/// discriminators do not estimate it (spectral normalization bounds their logits, a lookahead or another loss changes
/// them, and they chase a moving generator), so a fresh one is fitted to the final generator first
/// (<see cref="Calibrate"/>). The paper's practical acceptance test then follows: with D* the largest logit of a
/// burn-in of candidates, F(x) = D(x) - D* - log(1 - exp(D(x) - D* - eps)), and x is kept with probability
/// sigmoid(F(x) - gamma), gamma the <see cref="TrainingSettings.RejectionPercentile"/>th percentile of F over the burn-in (the paper's
/// gamma; above it acceptance saturates and stops following the density ratio). Every draw is
/// seeded from the run's seed (<see cref="SeedPurpose.Rejection"/>), so the same networks give the same samples.
/// </summary>
public static class RejectionSampler
{
    /// <summary>Candidates per generator pass.</summary>
    public const int Chunk = 2500;

    /// <summary>Candidates of the burn-in that fix D* and gamma.</summary>
    public const int BurnIn = 10_000;

    /// <summary>The peak learning rate of <see cref="Calibrate"/> (Adam, decayed linearly to zero).</summary>
    public const double CalibrationLearningRate = 3e-3;

    private const double Epsilon = 1e-6;

    /// <summary>The logistic loss the fitted discriminator minimises (minimax's, that of a classifier of real against generated).</summary>
    private static readonly IGanLoss Logistic = GanLoss.Create(LossKind.Minimax);

    /// <summary>
    /// <paramref name="count"/> samples of <paramref name="generator"/> that a discriminator fitted to it for
    /// <see cref="TrainingSettings.RejectionSteps"/> steps accepts. <paramref name="progress"/> hears the fitted steps.
    /// </summary>
    public static RejectionResult Draw(TrainingSettings settings, IRealData data, GeneratorCore generator, int count, Action<int>? progress = null)
    {
        using var critic = Calibrate(settings, data, generator.LatentDim, generator.Generate, generator.Device, settings.RejectionSteps, progress);
        return Sample(generator.LatentDim, generator.Generate, critic, settings.Seed, count, settings.RejectionPercentile);
    }

    /// <summary>
    /// A discriminator fitted to the generator <paramref name="generate"/> (noise (N, z) to samples) as it is: a fresh
    /// network of the run's shape, without spectral normalization or packing, trained with the logistic loss on real
    /// batches of the run's batch size against as many of the generator's samples, so that its logit estimates
    /// log p_data / p_g.
    /// </summary>
    public static DiscriminatorNetwork Calibrate(TrainingSettings settings, IRealData data, int latentDim, Func<Tensor, Tensor> generate, Device device,
        int steps, Action<int>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var plain = settings with { SpectralNorm = false, Pack = 1 };
        var model = ModelFactory.CreateDiscriminator(plain, data.SampleShape, ModelFactory.InputScale(data), RejectionMember, device);
        // The project's Adam (bit-compatible with torch.optim.Adam): TorchSharp's own lets a learning rate's native
        // scalar be finalized during the step that reads it (ScalarOps), which crashed a grid25 calibration once.
        using var optimizer = new ExplicitOptimizer([.. model.parameters()], OptimizerKind.Adam, CalibrationLearningRate, 0.5, 0.999);
        for (var step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            using var realDraw = Seeds.Generator(settings.Seed, step, SeedRole.Discriminator, RejectionMember, SeedPurpose.Rejection);
            using var fakeDraw = Seeds.Generator(settings.Seed, step, SeedRole.Generator, RejectionMember, SeedPurpose.Rejection);
            var real = data.Sample(settings.Batch, realDraw).to(device);
            var fake = generate(randn([settings.Batch, latentDim], generator: fakeDraw)).detach().to(device);
            var loss = Logistic.DiscriminatorLoss(model.forward(real), model.forward(fake));
            optimizer.ZeroGrad();
            loss.backward();
            optimizer.Scale = 1.0 - (double)step / steps;
            optimizer.Step();
            if ((step + 1) % 100 == 0 || step + 1 == steps) progress?.Invoke(step + 1);
        }
        return model;
    }

    /// <summary>
    /// <paramref name="count"/> samples of <paramref name="generate"/> accepted under <paramref name="critic"/>'s logits,
    /// gamma at <paramref name="percentile"/>; throws <see cref="InvalidOperationException"/> when <paramref name="maxCandidatesPerSample"/> x count candidates
    /// after the burn-in were not enough.
    /// </summary>
    public static RejectionResult Sample(int latentDim, Func<Tensor, Tensor> generate, DiscriminatorNetwork critic, long seed, int count,
        double percentile, int maxCandidatesPerSample = 200)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (!(percentile > 0 && percentile < 100)) throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "a percentile in (0, 100)");
        if (critic.Pack != 1) throw new ArgumentException($"rejection sampling needs a discriminator that judges one sample at a time; this one packs {critic.Pack}");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = critic.parameters().First().device;
        var chunk = 0;
        (Tensor X, Tensor Logit) Next()
        {
            using var noise = Seeds.Generator(seed, chunk++, SeedRole.Generator, RejectionMember, SeedPurpose.Rejection, 1);
            var x = generate(randn([Chunk, latentDim], generator: noise));                       // (Chunk, ...) on the CPU
            return (x, critic.forward(x.to(device)).cpu().to(float64));                         // (Chunk)
        }

        var burn = new List<Tensor>();
        for (var n = 0; n < BurnIn; n += Chunk) burn.Add(Next().Logit);
        var burnLogits = cat(burn, 0);
        var max = burnLogits.max().item<double>();
        var gamma = quantile(F(burnLogits, max), tensor(percentile / 100.0, float64)).item<double>();

        var kept = new List<Tensor>();
        long accepted = 0, proposed = 0, acceptedAll = 0;
        while (accepted < count)
        {
            if (proposed >= (long)maxCandidatesPerSample * count)
                throw new InvalidOperationException($"rejection sampling accepted {acceptedAll} of {proposed} candidates, fewer than the {count} samples asked for");
            var (x, logit) = Next();
            using var draws = Seeds.Generator(seed, chunk, SeedRole.Generator, RejectionMember, SeedPurpose.Rejection, 2);
            var u = rand([Chunk], dtype: float64, generator: draws);
            var keep = u.lt(sigmoid(F(logit, max).Sub(gamma))).nonzero().squeeze(1);                // indices of the accepted
            proposed += Chunk;
            acceptedAll += keep.shape[0];
            var take = Math.Min(keep.shape[0], count - accepted);
            if (take == 0) continue;
            kept.Add(x.index_select(0, keep.narrow(0, 0, take)));
            accepted += take;
        }
        return new RejectionResult(cat(kept, 0).MoveToOuterDisposeScope(), BurnIn + proposed, (double)acceptedAll / proposed);
    }

    /// <summary>The member index the rejection sampler's draws and network are seeded with (no population member has it).</summary>
    private const int RejectionMember = 1_000_000;

    /// <summary>F(x) of the paper, from logits (float64) and the burn-in's largest logit.</summary>
    private static Tensor F(Tensor logits, double max)
    {
        var shifted = logits.Sub(max).ClampMax(0.0); // a logit above the burn-in's largest counts as the largest
        return shifted - log1p(-exp(shifted.Sub(Epsilon)));
    }
}
