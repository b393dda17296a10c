using AkkaGan.Core.Data;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

public sealed class DataSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-idx-").FullName;

    [Fact]
    public void Ring8_should_have_eight_distinct_centres_at_angles_two_pi_i_over_8()
    {
        var ring = GaussianMixture.Ring8();
        Assert.Equal(8, ring.Centres.Count);
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(Math.Cos(2 * Math.PI * i / 8), ring.Centres[i].X, 12);
            Assert.Equal(Math.Sin(2 * Math.PI * i / 8), ring.Centres[i].Y, 12);
        }
        // The linspace(0, 2 pi, 8) bug repeats the first centre: all pairwise distances must be clearly positive.
        var minDistance = ring.Centres.SelectMany((a, i) => ring.Centres.Skip(i + 1).Select(b => Math.Sqrt(Math.Pow(a.X - b.X, 2) + Math.Pow(a.Y - b.Y, 2)))).Min();
        Assert.True(minDistance > 0.7, $"closest centres are {minDistance} apart");
        Assert.Equal(0.01, ring.Std);
    }

    [Fact]
    public void Grid25_should_sit_on_minus4_to_4_in_steps_of_2()
    {
        var grid = GaussianMixture.Grid25();
        Assert.Equal(25, grid.Centres.Count);
        var coords = grid.Centres.Select(c => c.X).Distinct().Order().ToArray();
        Assert.Equal([-4.0, -2.0, 0.0, 2.0, 4.0], coords);
        Assert.Equal(0.05, grid.Std);
    }

    [Fact]
    public void Spiral_centres_should_be_separated_far_beyond_the_quality_radius()
    {
        var spiral = GaussianMixture.Spiral();
        var minDistance = spiral.Centres.SelectMany((a, i) => spiral.Centres.Skip(i + 1).Select(b => Math.Sqrt(Math.Pow(a.X - b.X, 2) + Math.Pow(a.Y - b.Y, 2)))).Min();
        Assert.True(minDistance > 6 * spiral.Std, $"closest centres are {minDistance} apart");
    }

    [Fact]
    public void Mixture_samples_should_lie_near_the_centres_and_be_seed_deterministic()
    {
        var ring = GaussianMixture.Ring8();
        using var g1 = Seeds.Generator(7, 1, SeedRole.Discriminator, 0, SeedPurpose.RealBatch);
        using var g2 = Seeds.Generator(7, 1, SeedRole.Discriminator, 0, SeedPurpose.RealBatch);
        using var a = ring.Sample(1000, g1);
        using var b = ring.Sample(1000, g2);
        Assert.True(a.equal(b).all().item<bool>());
        var radius = a.norm(1);
        Assert.True((radius - 1).abs().max().item<float>() < 0.06f); // 6 std
    }

    [Fact]
    public void Idx_should_read_raw_and_gzip_files()
    {
        var data = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)i).ToArray();
        IdxFile.Write(Path.Combine(_dir, "raw"), [2, 3, 4], data, gzip: false);
        IdxFile.Write(Path.Combine(_dir, "gz"), [2, 3, 4], data, gzip: true);
        foreach (var name in new[] { "raw", "gz" })
        {
            var file = IdxFile.Read(Path.Combine(_dir, name), expectedRank: 3);
            Assert.Equal([2, 3, 4], file.Dimensions);
            Assert.Equal(data, file.Data);
        }
    }

    [Fact]
    public void Idx_should_reject_a_wrong_magic_number_naming_the_file()
    {
        var path = Path.Combine(_dir, "bad-magic");
        File.WriteAllBytes(path, [0, 0, 0x0D, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 42]);
        var e = Assert.Throws<DatasetException>(() => IdxFile.Read(path, 3));
        Assert.Contains(path, e.Message);
        Assert.Contains("wrong magic number", e.Message);
    }

    [Fact]
    public void Idx_should_reject_a_truncated_file_naming_the_file()
    {
        var path = Path.Combine(_dir, "short.gz");
        IdxFile.Write(path, [10, 28, 28], new byte[9 * 28 * 28], gzip: true); // one image short
        var e = Assert.Throws<DatasetException>(() => IdxFile.Read(path, 3));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Idx_should_reject_a_wrong_rank_naming_the_file()
    {
        var path = Path.Combine(_dir, "rank");
        IdxFile.Write(path, [4, 4], new byte[16], gzip: false);
        var e = Assert.Throws<DatasetException>(() => IdxFile.Read(path, 3));
        Assert.Contains(path, e.Message);
        Assert.Contains("dimensions", e.Message);
    }

    [Fact]
    public void FashionMnist_should_reject_labels_that_do_not_match_the_images()
    {
        IdxFile.Write(Path.Combine(_dir, "train-images-idx3-ubyte.gz"), [5, 28, 28], new byte[5 * 28 * 28], gzip: true);
        IdxFile.Write(Path.Combine(_dir, "train-labels-idx1-ubyte.gz"), [4], new byte[4], gzip: true);
        var e = Assert.Throws<DatasetException>(() => FashionMnist.Load(_dir));
        Assert.Contains("dimension mismatch", e.Message);
        Assert.Contains("train-labels-idx1-ubyte.gz", e.Message);
    }

    [Fact]
    public void FashionMnist_should_name_the_missing_file_and_the_apt_package()
    {
        var e = Assert.Throws<DatasetException>(() => FashionMnist.Load(_dir));
        Assert.Contains("train-images-idx3-ubyte", e.Message);
        var missingFolder = Assert.Throws<DatasetException>(() => FashionMnist.Load(Path.Combine(_dir, "nope")));
        Assert.Contains("apt-get install dataset-fashion-mnist", missingFolder.Message);
    }

    [Fact]
    public void FashionMnist_should_load_generated_files_scaled_to_minus_one_one()
    {
        var pixels = new byte[3 * 28 * 28];
        pixels[0] = 255; // first pixel of image 0 white, all else black
        IdxFile.Write(Path.Combine(_dir, "train-images-idx3-ubyte.gz"), [3, 28, 28], pixels, gzip: true);
        IdxFile.Write(Path.Combine(_dir, "train-labels-idx1-ubyte"), [3], [1, 2, 9], gzip: false);
        var data = FashionMnist.Load(_dir);
        Assert.Equal(3, data.Count);
        Assert.Equal([1L, 28, 28], data.SampleShape);
        Assert.Equal(1f, data.Images[0, 0, 0, 0].item<float>());
        Assert.Equal(-1f, data.Images[1, 0, 5, 5].item<float>());
        Assert.Equal([1L, 2, 9], data.Labels.data<long>().ToArray());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
