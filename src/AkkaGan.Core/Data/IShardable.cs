using static TorchSharp.torch;

namespace AkkaGan.Core.Data;

/// <summary>
/// Finite data that can be split into shards for data-parallel discriminators (<c>data-shards</c>, MD-GAN style): shard
/// k of N holds the training rows k, k + N, k + 2N, ... in the dataset's training order, so the shards are disjoint,
/// cover the data and differ in size by at most one row. A shard keeps the whole dataset's held-out rows (they are few,
/// and the metrics compare against them).
/// </summary>
public interface IShardable : IRealData
{
    /// <summary>The shard this object holds, or -1 for the whole dataset.</summary>
    int ShardIndex { get; }

    /// <summary>Training rows held.</summary>
    long TrainCount { get; }

    /// <summary>Shard <paramref name="shard"/> of <paramref name="shards"/> as an object of its own (its rows copied); this one stays as it is.</summary>
    IRealData Shard(int shard, int shards);
}

/// <summary>The row selection every <see cref="IShardable"/> makes.</summary>
public static class Shards
{
    /// <summary>The rows of shard <paramref name="shard"/> of <paramref name="shards"/> among <paramref name="count"/> rows: shard, shard + shards, ...</summary>
    public static Tensor Rows(long count, int shard, int shards)
    {
        if (shards < 1 || shard < 0 || shard >= shards) throw new ArgumentOutOfRangeException(nameof(shard), shard, $"shard must be in 0..{shards - 1}");
        if (count < shards) throw new DatasetException($"{count} training rows cannot make {shards} shards (data-shards is larger than the data)");
        var rows = new long[(count - shard + shards - 1) / shards];
        for (var i = 0; i < rows.Length; i++) rows[i] = shard + (long)i * shards;
        return tensor(rows);
    }
}
