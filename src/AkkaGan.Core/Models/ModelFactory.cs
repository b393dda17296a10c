using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace AkkaGan.Core.Models;

/// <summary>
/// Builds the networks a run's settings describe and initialises them from a derived seed (never from torch's global
/// generator, which several actors in one process would share).
/// </summary>
public static class ModelFactory
{
    /// <summary>
    /// The generator for samples of <paramref name="sampleShape"/>: an MLP for points, the DCGAN generator for images; seeded from the
    /// run's seed.
    /// </summary>
    public static nn.Module<Tensor, Tensor> CreateGenerator(TrainingSettings settings, long[] sampleShape, Device device)
    {
        nn.Module<Tensor, Tensor> model = sampleShape.Length == 1
            ? new MlpGenerator(settings.LatentDim, settings.HiddenUnits, settings.HiddenLayers, (int)sampleShape[0])
            : new DcganGenerator(settings.LatentDim, (int)sampleShape[0], size: (int)sampleShape[^1]);
        using var generator = Seeds.Generator(settings.Seed, 0, SeedRole.Generator, 0, SeedPurpose.Init);
        Initialise(model, generator, dcgan: sampleShape.Length != 1);
        return model.to(device);
    }

    /// <summary>
    /// Member <paramref name="member"/>'s discriminator: an MLP for points, the DCGAN discriminator for images, its inputs divided by
    /// <paramref name="inputScale"/>; seeded from the run's seed and the member.
    /// </summary>
    public static DiscriminatorNetwork CreateDiscriminator(TrainingSettings settings, long[] sampleShape, double inputScale, int member, Device device)
    {
        // With packing the network sees m samples at once: m x d coordinates, or m x C channels.
        var pack = Math.Max(1, settings.Pack);
        DiscriminatorNetwork model = sampleShape.Length == 1
            ? new MlpDiscriminator(pack * (int)sampleShape[0], settings.HiddenUnits, settings.HiddenLayers, inputScale)
            : new DcganDiscriminator(pack * (int)sampleShape[0], size: (int)sampleShape[^1]);
        if (pack > 1) model = new PackedDiscriminator(model, pack);
        if (settings.SpectralNorm) model = new SpectralNormDiscriminator(model);
        using var generator = Seeds.Generator(settings.Seed, 0, SeedRole.Discriminator, member, SeedPurpose.Init);
        Initialise(model, generator, dcgan: sampleShape.Length != 1);
        (model as SpectralNormDiscriminator)?.InitialiseEstimates(generator);   // after the weights: they draw as without it
        return (DiscriminatorNetwork)model.to(device);
    }

    /// <summary>The input scale of a points discriminator: 1 / extent of the data (1 for images, already in [-1, 1]).</summary>
    public static double InputScale(IRealData data) => data switch
    {
        GaussianMixture mixture => 1.0 / mixture.Extent,
        PointCloud points => 1.0 / points.Extent,
        _ => 1.0,
    };

    /// <summary>
    /// PyTorch's default Linear/Conv init (uniform within 1/sqrt(fan_in)) for MLPs, DCGAN's N(0, 0.02) for images,
    /// drawn in named_parameters order from one seeded generator. (torch.nn.init.uniform_/normal_ in TorchSharp 0.107
    /// ignore their generator argument, so the draws are made with rand/randn and copied in.)
    /// </summary>
    private static void Initialise(nn.Module model, Generator generator, bool dcgan)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            var isNorm = name.Contains("bn", StringComparison.Ordinal);
            if (dcgan)
            {
                if (isNorm && name.EndsWith("weight", StringComparison.Ordinal)) p.copy_(randn(p.shape, generator: generator).Mul(0.02).Add(1.0));
                else if (name.EndsWith("bias", StringComparison.Ordinal)) p.zero_();
                else p.copy_(randn(p.shape, generator: generator).Mul(0.02));
                continue;
            }
            var fanIn = FanIn(model, name, p);
            var bound = 1.0 / Math.Sqrt(fanIn);
            p.copy_(rand(p.shape, generator: generator).Mul(2).Sub(1).Mul(bound));
        }
    }

    private static long FanIn(nn.Module model, string name, Tensor p)
    {
        if (p.dim() >= 2) return p.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        // A bias: its fan-in is the one of the weight next to it.
        var weightName = name[..^"bias".Length] + "weight";
        var weight = model.named_parameters().First(n => n.name == weightName).parameter;
        return weight.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
    }
}
