using AkkaGan.Core.Data;
using AkkaGan.Core.Metrics;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Evaluation;

/// <summary>
/// <see cref="ImageMetrics"/> of generated images against a fixed set of real ones: the classifier labels every
/// channel (one Fashion-MNIST image per channel), the labels make the mode histogram (the class, or the triplet
/// 100 c0 + 10 c1 + c2 for stacked images), and the concatenated per-channel penultimate features are compared with
/// those of <c>referenceCount</c> real images drawn once, from a fixed seed, when the evaluator is made.
/// </summary>
public sealed class ImageEvaluator : IDisposable
{
    private readonly FashionClassifier _classifier;
    private readonly Tensor _referenceMean;        // (F)
    private readonly Tensor _referenceCovariance;  // (F, F)

    /// <param name="real">A <see cref="FashionMnist"/> or a <see cref="StackedFashionMnist"/>.</param>
    /// <param name="referenceCount">Real images behind the FCD's reference statistics (use the evaluation's sample count: FCD is biased by N).</param>
    public ImageEvaluator(FashionClassifier classifier, IRealData real, int referenceCount, long seed)
    {
        if (real is not (FashionMnist or StackedFashionMnist))
            throw new ArgumentException($"image metrics need Fashion-MNIST or Stacked Fashion-MNIST data, got {real.GetType().Name}", nameof(real));
        _classifier = classifier;
        Channels = (int)real.SampleShape[0];
        Modes = real is StackedFashionMnist ? StackedFashionMnist.Modes : FashionClassifier.Classes;
        using var scope = NewDisposeScope();
        using var generator = Seeds.Generator(seed, 0, SeedRole.Coordinator, 0, SeedPurpose.Evaluation);
        var images = real.Sample(Math.Max(2, referenceCount), generator);                 // (N, C, 28, 28)
        var (_, features) = Classify(images);
        var (mean, covariance) = ImageMetrics.Moments(features);
        _referenceMean = mean.DetachFromDisposeScope();
        _referenceCovariance = covariance.DetachFromDisposeScope();
    }

    /// <summary>Channels per image: 1, or 3 for stacked images.</summary>
    public int Channels { get; }

    /// <summary>10 classes, or 1000 triplets.</summary>
    public int Modes { get; }

    /// <summary>Metrics of generated images (N, C, 28, 28) in [-1, 1].</summary>
    public ImageMetrics Compute(Tensor samples)
    {
        if (samples.dim() != 4 || samples.shape[1] != Channels)
            throw new ArgumentException($"expected images (N, {Channels}, 28, 28), got [{string.Join(", ", samples.shape)}]", nameof(samples));
        using var scope = NewDisposeScope();
        var (labels, features) = Classify(samples.to_type(ScalarType.Float32).cpu());
        var counts = ImageMetrics.Histogram(labels, Modes);
        var (covered, kl) = ImageMetrics.Coverage(counts);
        var fcd = samples.shape[0] < 2 ? double.NaN : ImageMetrics.FrechetDistance(ImageMetrics.Moments(features), (_referenceMean, _referenceCovariance));
        return new ImageMetrics(Modes, covered, kl, fcd, (int)samples.shape[0], counts);
    }

    /// <summary>Mode labels (N) and per-channel features concatenated (N, C x hidden).</summary>
    private (Tensor Labels, Tensor Features) Classify(Tensor images)
    {
        using var scope = NewDisposeScope();
        Tensor? labels = null;
        var features = new List<Tensor>();
        for (var c = 0; c < Channels; c++)
        {
            var (classes, f) = _classifier.Classify(images.narrow(1, c, 1));             // (N), (N, hidden)
            labels = labels is null ? classes : labels.Mul(10).Plus(classes);                   // c0, then 10 c0 + c1, then 100 c0 + 10 c1 + c2
            features.Add(f);
        }
        return (labels!.MoveToOuterDisposeScope(), cat(features, 1).MoveToOuterDisposeScope());
    }

    /// <summary>Disposes the classifier and the real images' features.</summary>
    public void Dispose()
    {
        _referenceMean.Dispose();
        _referenceCovariance.Dispose();
    }
}
