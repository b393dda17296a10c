using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Data;

/// <summary>
/// A 2-D mixture of equally weighted isotropic Gaussians, the synthetic benchmark of the Unrolled-GAN, VEEGAN and
/// PacGAN papers. The centres are also what the mode metrics measure against.
/// </summary>
public sealed class GaussianMixture : IRealData
{
    private readonly Tensor _centres; // (K, 2)

    /// <summary>An equal-weight mixture of isotropic Gaussians of std <paramref name="std"/> at <paramref name="centres"/>.</summary>
    public GaussianMixture(string name, IReadOnlyList<(double X, double Y)> centres, double std)
    {
        if (centres.Count == 0) throw new ArgumentException("a mixture needs at least one centre", nameof(centres));
        if (!(std > 0)) throw new ArgumentOutOfRangeException(nameof(std), std, "std must be positive");
        Name = name;
        Centres = centres;
        Std = std;
        _centres = tensor(centres.SelectMany(c => new[] { (float)c.X, (float)c.Y }).ToArray(), [centres.Count, 2]);
        _centres.DetachFromDisposeScope();
        Extent = centres.Max(c => Math.Max(Math.Abs(c.X), Math.Abs(c.Y))) + 3 * std;
    }

    /// <summary>The dataset's name, e.g. <c>ring8</c>.</summary>
    public string Name { get; }
    /// <summary>The modes' centres.</summary>
    public IReadOnlyList<(double X, double Y)> Centres { get; }
    /// <summary>The standard deviation of each component.</summary>
    public double Std { get; }
    /// <summary>Half-width of a square that holds practically all the mass (max |coordinate| + 3 std).</summary>
    public double Extent { get; }
    /// <summary>A sample is a point, shape [2].</summary>
    public long[] SampleShape => [2];

    /// <summary><paramref name="count"/> points, (count, 2) float32: a uniformly drawn component each, plus Gaussian noise.</summary>
    public Tensor Sample(int count, Generator generator)
    {
        using var scope = NewDisposeScope();
        var index = randint(0, Centres.Count, [count], generator: generator);              // (count)
        var noise = randn([count, 2], generator: generator).Mul((float)Std);                 // (count, 2)
        return _centres.index_select(0, index).Plus(noise).MoveToOuterDisposeScope();
    }

    /// <summary>8 Gaussians on a circle of radius r at angles 2 pi i / 8, i = 0..7 (std 0.01, r 1 by default).</summary>
    public static GaussianMixture Ring8(double radius = 1.0, double std = 0.01)
    {
        // Angles 2*pi*i/8 for i in 0..7; NOT linspace(0, 2*pi, 8), which repeats the first centre and yields 7 modes.
        var centres = Enumerable.Range(0, 8)
            .Select(i => (radius * Math.Cos(2 * Math.PI * i / 8), radius * Math.Sin(2 * Math.PI * i / 8)))
            .ToArray();
        return new GaussianMixture("ring8", centres, std);
    }

    /// <summary>25 Gaussians on the grid {-2s, -s, 0, s, 2s}^2 (s = 2, std 0.05 by default).</summary>
    public static GaussianMixture Grid25(double spacing = 2.0, double std = 0.05)
    {
        var centres = new List<(double, double)>();
        for (var i = -2; i <= 2; i++)
            for (var j = -2; j <= 2; j++)
                centres.Add((i * spacing, j * spacing));
        return new GaussianMixture("grid25", centres, std);
    }

    /// <summary>
    /// 12 Gaussians on an Archimedean spiral (two turns, outer radius r = 2, std 0.02 by default), spaced evenly in
    /// angle; neighbouring centres are at least 0.3 r apart, so the 3-std quality radius never overlaps.
    /// </summary>
    public static GaussianMixture Spiral(double radius = 2.0, double std = 0.02)
    {
        const int count = 12;
        var centres = Enumerable.Range(0, count).Select(i =>
        {
            var t = (i + 1.0) / count;              // (0, 1]
            var angle = 4 * Math.PI * t;            // two turns
            var r = radius * (0.25 + 0.75 * t);
            return (r * Math.Cos(angle), r * Math.Sin(angle));
        }).ToArray();
        return new GaussianMixture("spiral", centres, std);
    }

    /// <summary>The mixture a run's settings name, with the overrides applied; null for image datasets.</summary>
    public static GaussianMixture? For(TrainingSettings settings) => settings.Dataset switch
    {
        DatasetKind.Ring8 => Ring8(settings.MixtureScale ?? 1.0, settings.MixtureStd ?? 0.01),
        DatasetKind.Grid25 => Grid25(settings.MixtureScale ?? 2.0, settings.MixtureStd ?? 0.05),
        DatasetKind.Spiral => Spiral(settings.MixtureScale ?? 2.0, settings.MixtureStd ?? 0.02),
        _ => null,
    };
}
