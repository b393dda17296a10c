using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Data;

/// <summary>
/// Stacked Fashion-MNIST, the Stacked-MNIST benchmark of VEEGAN/PacGAN on Fashion-MNIST: every sample is three
/// independently drawn images of the source set stacked as the channels of one (3, 28, 28) image, so the data has
/// 10^3 = 1000 modes, the class triplets. A sample's label is 100 c0 + 10 c1 + c2 (ci the class of channel i).
/// </summary>
public sealed class StackedFashionMnist : IShardable, IDisposable
{
    /// <summary>Channels per sample, and the number of independently drawn source images in it.</summary>
    public const int Channels = 3;

    /// <summary>The modes: every class triplet.</summary>
    public const int Modes = 1000;

    /// <summary>Stacks images of <paramref name="source"/>.</summary>
    public StackedFashionMnist(FashionMnist source)
    {
        Source = source;
    }

    /// <summary>The shard of the source images held (-1: all of them).</summary>
    public int ShardIndex => Source.ShardIndex;

    /// <summary>Source images held.</summary>
    public long TrainCount => Source.Count;

    /// <summary>The stacks of shard <paramref name="shard"/> of the source images: every channel of a sample is drawn from the shard.</summary>
    public IRealData Shard(int shard, int shards) => new StackedFashionMnist((FashionMnist)Source.Shard(shard, shards));

    /// <summary>Frees the source images.</summary>
    public void Dispose() => Source.Dispose();

    /// <summary>The single-channel images the channels are drawn from.</summary>
    public FashionMnist Source { get; }
    /// <summary>The shape of one stacked image, [3, 28, 28].</summary>
    public long[] SampleShape => [Channels, .. Source.SampleShape.Skip(1)];

    /// <summary>
    /// Loads Fashion-MNIST from <paramref name="directory"/> (the training or test split, at most <paramref name="limit"/> images) to
    /// stack.
    /// </summary>
    public static StackedFashionMnist Load(string directory, bool train = true, int? limit = null) => new(FashionMnist.Load(directory, train, limit));

    /// <summary><paramref name="count"/> stacked images, each channel an independently drawn Fashion-MNIST image.</summary>
    public Tensor Sample(int count, Generator generator)
    {
        using var scope = NewDisposeScope();
        return SampleLabelled(count, generator).Images.MoveToOuterDisposeScope();
    }

    /// <summary>Samples with their triplet labels (count) int64, 100 c0 + 10 c1 + c2.</summary>
    public (Tensor Images, Tensor Labels) SampleLabelled(int count, Generator generator)
    {
        using var scope = NewDisposeScope();
        // One index draw per channel, in channel order, from the caller's seeded generator.
        var index = randint(0, Source.Count, [Channels, count], generator: generator);                        // (3, count)
        var images = stack([.. Enumerable.Range(0, Channels).Select(c => Source.Images.index_select(0, index[c]).squeeze(1))], 1);   // (count, 3, H, W)
        var classes = Source.Labels.index_select(0, index.flatten()).view(Channels, count);                    // (3, count)
        var labels = classes[0].Mul(100).Plus(classes[1].Mul(10)).Plus(classes[2]);                                           // (count)
        return (images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }

    /// <summary>Splits triplet labels into their channel classes: (N) -> (N, 3).</summary>
    public static Tensor ChannelClasses(Tensor labels)
        => stack([labels.FloorDiv(100), labels.FloorDiv(10).Remainder(10), labels.Remainder(10)], 1);
}
