using System.Globalization;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>
/// Data shards (<c>data-shards</c>): disjoint, covering, balanced; a shard loaded alone (an image folder reads only its
/// rows) holds exactly the rows the whole dataset's shard holds, in the same order, so both engines sample alike.
/// </summary>
public sealed class ShardSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-shards-").FullName;

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static string[] Rows(Tensor t)
    {
        var flat = t.reshape(t.shape[0], -1).to_type(ScalarType.Float32).contiguous();
        var width = (int)flat.shape[1];
        var values = flat.data<float>().ToArray();
        return [.. Enumerable.Range(0, (int)flat.shape[0]).Select(i => string.Join(",", values.AsSpan(i * width, width).ToArray()))];
    }

    [Fact]
    public void Shards_of_a_points_file_should_be_disjoint_balanced_and_cover_the_training_rows()
    {
        File.WriteAllLines(PathOf("p.csv"), Enumerable.Range(0, 103).Select(i => string.Create(CultureInfo.InvariantCulture, $"{i},{-i}")));
        var whole = PointCloud.Load(PathOf("p.csv"));
        var shards = Enumerable.Range(0, 3).Select(k => (PointCloud)whole.Shard(k, 3)).ToArray();
        Assert.Equal([0, 1, 2], shards.Select(s => s.ShardIndex));
        Assert.Equal(whole.TrainCount, shards.Sum(s => s.TrainCount));
        Assert.True(shards.Max(s => s.TrainCount) - shards.Min(s => s.TrainCount) <= 1);
        var rows = shards.Select(s =>
        {
            using var generator = new Generator(1, CPU);
            return Rows(s.Sample(3000, generator)).ToHashSet();
        }).ToArray();
        for (var a = 0; a < 3; a++)
        {
            Assert.Equal(shards[a].TrainCount, rows[a].Count);
            for (var b = a + 1; b < 3; b++) Assert.Empty(rows[a].Intersect(rows[b]));
        }
        using var held = whole.HeldOut;
        Assert.All(shards, s => Assert.Equal(Rows(held), Rows(s.HeldOut)));
    }

    [Fact]
    public void An_image_folder_shard_loaded_alone_should_hold_the_rows_of_the_whole_folders_shard()
    {
        var root = Directory.CreateDirectory(PathOf("images")).FullName;
        for (var i = 0; i < 45; i++)
            UserDataSpecs.WritePng(Path.Combine(root, $"{i:D2}.png"), [.. Enumerable.Range(0, 16 * 16).Select(p => (byte)((p * 7 + i * 13) % 256))], 16, 16, rgb: false);
        var cache = PathOf("cache");
        var log = new List<string>();
        using var whole = ImageFolder.Load(root, 16, 0, null, cache);
        for (var k = 0; k < 2; k++)
        {
            using var alone = ImageFolder.Load(root, 16, 0, log.Add, cache, shard: k, shards: 2);
            using var cut = (ImageFolder)whole.Shard(k, 2);
            Assert.Equal(k, alone.ShardIndex);
            Assert.Equal(cut.TrainCount, alone.TrainCount);
            // The same rows in the same order: the same seeded draws give the same images.
            using var g1 = new Generator(5, CPU);
            using var g2 = new Generator(5, CPU);
            Assert.Equal(Rows(cut.Sample(64, g1)), Rows(alone.Sample(64, g2)));
            Assert.Equal(Rows(whole.HeldOut), Rows(alone.HeldOut));
        }
        Assert.Equal(41, ImageFolderTrainCount(whole));
        Assert.Contains(log, l => l.Contains("shard 1 of 2: 20 of the 41 training images in memory", StringComparison.Ordinal));
    }

    private static long ImageFolderTrainCount(ImageFolder folder) => folder.TrainCount;

    [Fact]
    public void The_engines_should_give_each_member_its_shard()
    {
        File.WriteAllLines(PathOf("q.csv"), Enumerable.Range(0, 60).Select(i => string.Create(CultureInfo.InvariantCulture, $"{i},{i % 5}")));
        var settings = new TrainingSettings { Dataset = DatasetKind.Points, DataFile = PathOf("q.csv"), Discriminators = 3, DataShards = 2 }.Validate();
        var whole = RunData.Create(settings);
        // The reference engine holds the whole file and cuts each member's shard; member 2 shares shard 0 with member 0.
        Assert.Equal([0, 1, 0], Enumerable.Range(0, 3).Select(m => ((IShardable)RunData.ForMember(whole, settings, m)).ShardIndex));
        // A node asked for member 1's shard loads just it, and the member takes it as it is.
        var alone = RunData.Create(settings.ForDataShard(1));
        Assert.Equal(1, ((IShardable)alone).ShardIndex);
        Assert.Same(alone, RunData.ForMember(alone, settings, 1));
        Assert.Throws<InvalidOperationException>(() => RunData.ForMember(alone, settings, 0));
        // Without shards every member sees the whole data.
        Assert.Same(whole, RunData.ForMember(whole, settings with { DataShards = 0 }, 1));
        // The shard a factory is asked for is the engine's, never part of the run's settings.
        Assert.DoesNotContain("data-shard\"", SettingsJson.Serialize(settings.ForDataShard(1)), StringComparison.Ordinal);
        Assert.Equal(-1, SettingsJson.Deserialize(SettingsJson.Serialize(settings.ForDataShard(1))).DataShard);
    }

    [Fact]
    public void Shards_should_be_refused_where_they_make_no_sense()
    {
        string Problems(TrainingSettings s) => Assert.Throws<SettingsException>(() => s.Validate()).Message;
        Assert.Contains("data-shards splits a finite dataset", Problems(new TrainingSettings { DataShards = 2, Discriminators = 2 }));
        Assert.Contains("data-shards (3) exceeds the discriminators (2)",
            Problems(new TrainingSettings { Dataset = DatasetKind.FashionMnist, DataShards = 3, Discriminators = 2 }));
        Assert.Contains("data-shards must be zero or positive", Problems(new TrainingSettings { DataShards = -1 }));
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
