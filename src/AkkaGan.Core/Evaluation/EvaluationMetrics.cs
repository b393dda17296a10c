using AkkaGan.Core.Data;
using AkkaGan.Core.Metrics;
using AkkaGan.Core.Settings;
using static TorchSharp.torch;

namespace AkkaGan.Core.Evaluation;

/// <summary>
/// The metrics of one evaluation for a run's dataset, the same code for both engines: mixture metrics for 2-D data,
/// classifier metrics (<see cref="ImageMetrics"/>) for Fashion-MNIST and Stacked Fashion-MNIST. Metrics never feed
/// back into training, so computing them cannot break the engines' equivalence.
/// </summary>
public sealed class EvaluationMetrics : IDisposable
{
    private readonly GaussianMixture? _mixture;
    private readonly ImageEvaluator? _images;
    private readonly FashionClassifier? _classifier;

    private EvaluationMetrics(GaussianMixture? mixture, FashionClassifier? classifier, ImageEvaluator? images)
    {
        _mixture = mixture;
        _classifier = classifier;
        _images = images;
    }

    /// <summary>
    /// The metrics of <paramref name="data"/>. For images this loads the evaluation classifier from its cache
    /// (<see cref="ClassifierCache"/>), training it first if there is none (minutes; hosts train it before the run
    /// starts so that this is a load), and classifies <c>eval-samples</c> real images once for the FCD reference.
    /// </summary>
    public static EvaluationMetrics Create(TrainingSettings settings, IRealData data, Action<string>? log = null)
    {
        if (data is GaussianMixture mixture) return new EvaluationMetrics(mixture, null, null);
        if (data is not (FashionMnist or StackedFashionMnist)) return new EvaluationMetrics(null, null, null);
        var classifier = ClassifierCache.LoadOrTrain(settings.DataDir, ClassifierCache.ResolveDirectory(settings.ClassifierDir), new ClassifierRecipe(), log ?? (_ => { }));
        return Create(data, classifier, settings.EvalSamples, settings.Seed);
    }

    /// <summary>Image metrics with a given classifier (taken over: disposed with this object).</summary>
    public static EvaluationMetrics Create(IRealData data, FashionClassifier classifier, int referenceCount, long seed)
        => new(null, classifier, new ImageEvaluator(classifier, data, referenceCount, seed));

    /// <summary>The metrics of generated samples (N, ...sample shape), float32 on any device.</summary>
    public (MixtureMetrics? Mixture, ImageMetrics? Image) Compute(Tensor samples)
    {
        using var scope = NewDisposeScope();
        if (_mixture is not null)
        {
            var flat = samples.to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
            var points = new (double, double)[samples.shape[0]];
            for (var i = 0; i < points.Length; i++) points[i] = (flat[2 * i], flat[2 * i + 1]);
            return (MixtureMetrics.Compute(points, _mixture.Centres, _mixture.Std), null);
        }
        return (null, _images?.Compute(samples));
    }

    public void Dispose()
    {
        _images?.Dispose();
        _classifier?.Dispose();
    }
}
