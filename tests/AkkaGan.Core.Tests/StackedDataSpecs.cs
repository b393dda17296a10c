using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

public sealed class StackedDataSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-stacked-").FullName;

    [Fact]
    public void Stacked_samples_should_be_three_independent_images_labelled_by_their_class_triplet()
    {
        // 30 images, image i has label i % 10 and every pixel equal to i / 100, so a channel names its source image.
        var source = FashionMnist.FromTensors(
            arange(30, dtype: ScalarType.Float32).div(100).view(30, 1, 1, 1).expand(30, 1, 28, 28).contiguous(),
            arange(30L, dtype: ScalarType.Int64).remainder(10));
        var stacked = new StackedFashionMnist(source);
        Assert.Equal([3L, 28, 28], stacked.SampleShape);

        using var generator = new Generator(1, CPU);
        var (images, labels) = stacked.SampleLabelled(500, generator);
        Assert.Equal([500L, 3, 28, 28], images.shape);
        var sourceIndex = images[.., .., 0, 0].mul(100).round().to_type(ScalarType.Int64);    // (500, 3)
        var expected = sourceIndex.remainder(10);                                              // the class of each channel
        Assert.True(Same(StackedFashionMnist.ChannelClasses(labels), expected));
        Assert.True(Same(labels, expected[.., 0] * 100 + expected[.., 1] * 10 + expected[.., 2]));
        // Channels are drawn independently: they rarely come from the same image.
        var sameImage = sourceIndex[.., 0].eq(sourceIndex[.., 1]).sum().item<long>();
        Assert.InRange(sameImage, 0, 50);
        Assert.True(labels.unique().Item1.shape[0] > 300, "500 draws of 1000 triplets should reach well over 300 of them");

        using var again = new Generator(1, CPU);
        Assert.True(Same(stacked.Sample(500, again), images), "the same seed draws the same samples");
    }

    [Fact]
    public void Run_data_should_load_stacked_fashion_mnist_from_idx_files()
    {
        var pixels = new byte[12 * 28 * 28];
        for (var i = 0; i < 12; i++) pixels[i * 28 * 28] = (byte)(i * 20);
        IdxFile.Write(Path.Combine(_dir, "train-images-idx3-ubyte.gz"), [12, 28, 28], pixels, gzip: true);
        IdxFile.Write(Path.Combine(_dir, "train-labels-idx1-ubyte.gz"), [12], [.. Enumerable.Range(0, 12).Select(i => (byte)(i % 10))], gzip: true);
        var settings = new TrainingSettings { Dataset = DatasetKind.StackedFashionMnist, DataDir = _dir }.Validate();

        var data = Assert.IsType<StackedFashionMnist>(RunData.Create(settings));
        Assert.Equal([3L, 28, 28], RunData.SampleShape(settings));
        Assert.Equal(RunData.SampleShape(settings), data.SampleShape);
        using var generator = new Generator(2, CPU);
        var (images, labels) = data.SampleLabelled(64, generator);
        var firstPixel = images[.., .., 0, 0].add(1).mul(127.5f).round().div(20).to_type(ScalarType.Int64);   // source image index per channel
        var classes = firstPixel.remainder(10);
        Assert.True(Same(labels, classes[.., 0] * 100 + classes[.., 1] * 10 + classes[.., 2]));
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
