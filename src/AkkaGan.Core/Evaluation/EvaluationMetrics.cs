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
    private readonly SampleDiversity.Reference? _diversity;
    private readonly DistributionDistance.Reference? _distance;
    private readonly Fidelity.Reference? _fidelity;
    private readonly RandomEmbedding? _embedding;

    private EvaluationMetrics(GaussianMixture? mixture, FashionClassifier? classifier, ImageEvaluator? images, IRealData? data, long seed)
    {
        _mixture = mixture;
        _classifier = classifier;
        _images = images;
        if (data is null) return;
        _diversity = DiversityReference(data, seed);
        using var scope = NewDisposeScope();
        var real = RealSamples(data, seed);
        _distance = DistanceReference(real, data.SampleShape);
        if (data.SampleShape.Length == 3) _embedding = new RandomEmbedding((int)data.SampleShape[0]);
        if (real.shape[0] > Fidelity.DefaultK) _fidelity = Fidelity.Reference.Of(Features(real));
    }

    /// <summary>The features <see cref="Fidelity"/> compares: the coordinates of points, <see cref="RandomEmbedding"/>'s of images.</summary>
    private Tensor Features(Tensor samples) => _embedding?.Embed(samples) ?? samples.flatten(1);

    /// <summary>
    /// Real samples the distribution distances compare against (images: the sliced distance on pixels only): the
    /// held-out samples of a user's data (up to this many), else drawn from a stream of their own.
    /// </summary>
    public const int DistanceSamples = 2500;

    /// <summary>The real samples the distances and <see cref="Fidelity"/> compare with: a user's held-out data, else a stream of their own.</summary>
    private static Tensor RealSamples(IRealData data, long seed)
    {
        using var generator = new TorchSharp.torch.Generator((ulong)(seed ^ 0xD157_A9CE), CPU);
        var real = data is IHeldOutData held ? held.HeldOut : data.Sample(DistanceSamples, generator);
        return real.narrow(0, 0, Math.Min(DistanceSamples, real.shape[0])).to_type(ScalarType.Float32).contiguous();
    }

    private static DistributionDistance.Reference DistanceReference(Tensor real, long[] sampleShape)
    {
        var dimension = (int)sampleShape.Aggregate(1L, (a, b) => a * b);
        return DistributionDistance.Reference.Of(real.data<float>().ToArray(), (int)real.shape[0], dimension, withMmd: sampleShape.Length == 1);
    }

    /// <summary>
    /// The real side of <see cref="SampleDiversity"/>: a user's held-out samples (the same on every shard), else real
    /// samples from a stream of their own (no training stream is touched).
    /// </summary>
    private static SampleDiversity.Reference DiversityReference(IRealData data, long seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new TorchSharp.torch.Generator((ulong)(seed ^ 0x5EED_D1CE), CPU);
        var real = data is IHeldOutData held ? held.HeldOut : data.Sample(SampleDiversity.MaxSamples, generator);
        return SampleDiversity.Reference.Of(real.narrow(0, 0, Math.Min(SampleDiversity.MaxSamples, real.shape[0])));
    }

    /// <summary>
    /// The metrics of <paramref name="data"/>. For images this loads the evaluation classifier from its cache
    /// (<see cref="ClassifierCache"/>), training it first if there is none (minutes; hosts train it before the run
    /// starts so that this is a load), and classifies <c>eval-samples</c> real images once for the FCD reference.
    /// </summary>
    public static EvaluationMetrics Create(TrainingSettings settings, IRealData data, Action<string>? log = null)
    {
        if (data is GaussianMixture mixture) return new EvaluationMetrics(mixture, null, null, data, settings.Seed);
        if (data is not (FashionMnist or StackedFashionMnist)) return new EvaluationMetrics(null, null, null, data, settings.Seed);
        var classifier = ClassifierCache.LoadOrTrain(settings.DataDir, ClassifierCache.ResolveDirectory(settings.ClassifierDir), new ClassifierRecipe(), log ?? (_ => { }));
        return Create(data, classifier, settings.EvalSamples, settings.Seed);
    }

    /// <summary>Image metrics with a given classifier (taken over: disposed with this object).</summary>
    public static EvaluationMetrics Create(IRealData data, FashionClassifier classifier, int referenceCount, long seed)
        => new(null, classifier, new ImageEvaluator(classifier, data, referenceCount, seed), data, seed);

    /// <summary>The metrics of generated samples (N, ...sample shape), float32 on any device.</summary>
    public Result Compute(Tensor samples)
    {
        using var scope = NewDisposeScope();
        var diversity = _diversity is not null && samples.shape[0] >= 2 ? SampleDiversity.Compute(samples, _diversity) : null;
        float[]? flat = null;
        DistributionDistance? distance = null;
        if (_distance is not null && samples.shape[0] >= 2)
        {
            flat = samples.to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
            distance = DistributionDistance.Compute(flat, (int)samples.shape[0], _distance);
        }
        var fidelity = _fidelity is not null && samples.shape[0] > _fidelity.K ? Fidelity.Compute(Features(samples), _fidelity) : null;
        if (_mixture is not null)
        {
            flat ??= samples.to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
            var points = new (double, double)[samples.shape[0]];
            for (var i = 0; i < points.Length; i++) points[i] = (flat[2 * i], flat[2 * i + 1]);
            return new Result(MixtureMetrics.Compute(points, _mixture.Centres, _mixture.Std), null, diversity) { Distance = distance, Fidelity = fidelity };
        }
        return new Result(null, _images?.Compute(samples), diversity) { Distance = distance, Fidelity = fidelity };
    }

    /// <summary>
    /// One evaluation's metrics: mixture metrics (2-D data) or classifier metrics (images), sample diversity (any data),
    /// and the distribution distances (the sliced Wasserstein distance for any data, the MMD for points).
    /// </summary>
    public sealed record Result(MixtureMetrics? Mixture, ImageMetrics? Image, SampleDiversity? Diversity)
    {
        /// <summary>Sliced Wasserstein (any data; on pixels for images) and MMD (points) against real samples.</summary>
        public DistributionDistance? Distance { get; init; }

        /// <summary>Precision, recall, density and coverage against real samples (points: coordinates; images: random features).</summary>
        public Fidelity? Fidelity { get; init; }
    }

    /// <summary>Disposes the classifier and cached real-data features, if any.</summary>
    public void Dispose()
    {
        _images?.Dispose();
        _classifier?.Dispose();
        _fidelity?.Dispose();
        _embedding?.Dispose();
    }
}
