using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Data;

/// <summary>
/// Fashion-MNIST (or any MNIST-layout dataset) from IDX files: images as float32 (N, 1, 28, 28) scaled to [-1, 1],
/// labels as int64. The Debian package <c>dataset-fashion-mnist</c> installs the files under
/// /usr/share/datasets/fashion-mnist.
/// </summary>
public sealed class FashionMnist : IShardable, IDisposable
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package puts the IDX files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";
    private readonly Tensor _images; // (N, 1, H, W) float32 in [-1, 1]

    private FashionMnist(Tensor images, Tensor labels, int shard = -1)
    {
        ShardIndex = shard;
        _images = images.DetachFromDisposeScope();
        Labels = labels.DetachFromDisposeScope();
    }

    /// <summary>The shard held (-1: the whole split).</summary>
    public int ShardIndex { get; }

    /// <summary>Images held (the training rows of a shard).</summary>
    public long TrainCount => Count;

    /// <inheritdoc/>
    public IRealData Shard(int shard, int shards)
    {
        using var scope = NewDisposeScope();
        var rows = Shards.Rows(Count, shard, shards);
        return new FashionMnist(_images.index_select(0, rows).MoveToOuterDisposeScope(), Labels.index_select(0, rows).MoveToOuterDisposeScope(), shard);
    }

    /// <summary>Frees the images and labels.</summary>
    public void Dispose()
    {
        _images.Dispose();
        Labels.Dispose();
    }

    /// <summary>Class labels (N) as int64.</summary>
    public Tensor Labels { get; }
    /// <summary>Images loaded.</summary>
    public long Count => _images.shape[0];
    /// <summary>The shape of one image, [1, 28, 28].</summary>
    public long[] SampleShape => [.. _images.shape.Skip(1)];
    /// <summary>Every image, (N, 1, 28, 28) float32 in [-1, 1].</summary>
    public Tensor Images => _images;

    /// <summary>
    /// Wraps images (N, 1, H, W) float32 in [-1, 1] and labels (N) int64 (e.g. made by a test); the tensors are
    /// taken over, not copied.
    /// </summary>
    public static FashionMnist FromTensors(Tensor images, Tensor labels)
    {
        if (images.dim() != 4 || images.shape[1] != 1) throw new ArgumentException($"images must be (N, 1, H, W), got [{string.Join(", ", images.shape)}]", nameof(images));
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new ArgumentException($"labels must be (N) with N = {images.shape[0]}, got [{string.Join(", ", labels.shape)}]", nameof(labels));
        return new FashionMnist(images.to_type(ScalarType.Float32), labels.to_type(ScalarType.Int64));
    }

    /// <summary>The image and label files of the train (or test) split, without reading them; throws naming what is missing.</summary>
    public static (string Images, string Labels) Files(string directory, bool train = true)
    {
        if (!Directory.Exists(directory))
            throw new DatasetException(
                $"{directory}: dataset folder not found (install it with 'sudo apt-get install dataset-fashion-mnist' or pass --data-dir)");
        var prefix = train ? "train" : "t10k";
        return (Find(directory, $"{prefix}-images-idx3-ubyte"), Find(directory, $"{prefix}-labels-idx1-ubyte"));
    }

    /// <summary>Whether the folder holds both files of the split (the test split is optional for tools that can do without).</summary>
    public static bool HasSplit(string directory, bool train)
    {
        try
        {
            _ = Files(directory, train);
            return true;
        }
        catch (DatasetException)
        {
            return false;
        }
    }

    /// <summary>Loads the train (or test: prefix "t10k") split; each problem names the file.</summary>
    public static FashionMnist Load(string directory, bool train = true, int? limit = null)
    {
        var (imagesPath, labelsPath) = Files(directory, train);
        var images = IdxFile.Read(imagesPath, expectedRank: 3);
        var labels = IdxFile.Read(labelsPath, expectedRank: 1);
        if (images.Dimensions[0] != labels.Dimensions[0])
            throw new DatasetException(
                $"{labelsPath}: dimension mismatch, {labels.Dimensions[0]} labels for {images.Dimensions[0]} images in {imagesPath}");
        var n = Math.Min(images.Dimensions[0], limit ?? int.MaxValue);
        var (h, w) = (images.Dimensions[1], images.Dimensions[2]);
        using var scope = NewDisposeScope();
        var raw = tensor(images.Data.AsSpan(0, n * h * w).ToArray(), [n, 1, h, w]);          // uint8
        var scaled = raw.to_type(ScalarType.Float32).DivInPlace(127.5f).SubInPlace(1f);                  // (n, 1, h, w) in [-1, 1]
        var labelTensor = tensor(labels.Data.AsSpan(0, n).ToArray(), [n]).to_type(ScalarType.Int64);
        var maxLabel = labelTensor.max().item<long>();
        if (maxLabel > 9) throw new DatasetException($"{labelsPath}: label {maxLabel} out of range 0..9");
        return new FashionMnist(scaled.MoveToOuterDisposeScope(), labelTensor.MoveToOuterDisposeScope());
    }

    /// <summary><paramref name="count"/> images drawn uniformly with replacement with <paramref name="generator"/>.</summary>
    public Tensor Sample(int count, Generator generator)
    {
        using var scope = NewDisposeScope();
        var index = randint(0, Count, [count], generator: generator);
        return _images.index_select(0, index).MoveToOuterDisposeScope();
    }

    private static string Find(string directory, string stem)
    {
        foreach (var name in new[] { stem + ".gz", stem, stem.Replace("-idx", ".idx", StringComparison.Ordinal) + ".gz" })
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path)) return path;
        }
        throw new DatasetException($"{Path.Combine(directory, stem + ".gz")}: file not found (neither {stem}.gz nor {stem} is in {directory}; " +
                                   $"'sudo apt-get install dataset-fashion-mnist' installs them in {DefaultDirectory})");
    }
}
