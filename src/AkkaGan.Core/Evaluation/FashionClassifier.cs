using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AkkaGan.Core.Evaluation;

/// <summary>
/// The evaluation classifier for 28x28 single-channel images (Fashion-MNIST): two 3x3 conv + ReLU + 2x2 max-pool
/// blocks and a hidden layer whose activations are the "penultimate features" of the Frechet distance (FCD); the
/// widths come from <see cref="ClassifierRecipe"/> (16, 32, 128: small enough to train in about two minutes on 2 CPU
/// cores). It only ever judges samples; it never takes part in training a GAN.
/// </summary>
public sealed class FashionClassifier : nn.Module<Tensor, Tensor>
{
    /// <summary>Fashion-MNIST's classes.</summary>
    public const int Classes = 10;
    private readonly Conv2d conv1;
    private readonly Conv2d conv2;
    private readonly Linear hidden;
    private readonly Linear head;

    /// <summary>
    /// Two 3x3 conv + max-pool blocks of <paramref name="conv1Channels"/> and <paramref name="conv2Channels"/> channels, a hidden layer of
    /// <paramref name="hiddenUnits"/> units and 10 logits.
    /// </summary>
    public FashionClassifier(int conv1Channels, int conv2Channels, int hiddenUnits) : base(nameof(FashionClassifier))
    {
        conv1 = nn.Conv2d(1, conv1Channels, 3, padding: 1);
        conv2 = nn.Conv2d(conv1Channels, conv2Channels, 3, padding: 1);
        hidden = nn.Linear(conv2Channels * 7 * 7, hiddenUnits);
        head = nn.Linear(hiddenUnits, Classes);
        FeatureCount = hiddenUnits;
        RegisterComponents();
    }

    /// <summary>Width of <see cref="Features"/>.</summary>
    public int FeatureCount { get; }

    /// <summary>Penultimate activations (N, hidden) of images (N, 1, 28, 28) in [-1, 1].</summary>
    public Tensor Features(Tensor images)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.max_pool2d(nn.functional.relu(conv1.forward(images)), [2, 2], [2, 2]);   // (N, c1, 14, 14)
        h = nn.functional.max_pool2d(nn.functional.relu(conv2.forward(h)), [2, 2], [2, 2]);             // (N, c2, 7, 7)
        return nn.functional.relu(hidden.forward(h.flatten(1))).MoveToOuterDisposeScope();             // (N, hidden)
    }

    /// <summary>Class logits (N, 10).</summary>
    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        return head.forward(Features(images)).MoveToOuterDisposeScope();                               // (N, 10)
    }

    /// <summary>Predicted classes (N) int64 and penultimate features (N, hidden) float32, in batches, without gradients.</summary>
    public (Tensor Classes, Tensor Features) Classify(Tensor images, int batch = 1000)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        eval();
        var classes = new List<Tensor>();
        var features = new List<Tensor>();
        for (long start = 0; start < images.shape[0]; start += batch)
        {
            var part = images.narrow(0, start, Math.Min(batch, images.shape[0] - start));
            var f = Features(part);                                                    // (b, hidden)
            features.Add(f);
            classes.Add(head.forward(f).argmax(1));                                    // (b)
        }
        return (cat(classes, 0).MoveToOuterDisposeScope(), cat(features, 0).MoveToOuterDisposeScope());
    }

    /// <summary>Share of <paramref name="images"/> classified as their <paramref name="labels"/>.</summary>
    public double Accuracy(Tensor images, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var (classes, _) = Classify(images);
        return classes.eq(labels).to_type(ScalarType.Float64).mean().item<double>();
    }
}
