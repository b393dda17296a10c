using System.Text.Json;
using System.Text.Json.Serialization;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using static TorchSharp.torch;

namespace AkkaGan.Core.Training;

/// <summary>The JSON form of <see cref="TrainingSettings"/> (kebab-case enums), used in checkpoints and summary.json.</summary>
public static class SettingsJson
{
    /// <summary>Kebab-case property names and enum values, compact.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.KebabCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        WriteIndented = false,
    };

    /// <summary>The settings as one line of JSON.</summary>
    public static string Serialize(TrainingSettings settings) => JsonSerializer.Serialize(settings, Options);

    /// <summary>Settings from <see cref="Serialize"/>'s JSON; throws <see cref="CheckpointException"/> for an empty document.</summary>
    public static TrainingSettings Deserialize(string json)
        => JsonSerializer.Deserialize<TrainingSettings>(json, Options) ?? throw new CheckpointException("checkpoint settings are empty");
}

/// <summary>Creates the real data a run's settings name.</summary>
public static class RunData
{
    /// <summary>The dataset of <paramref name="settings"/>: the mixture, or the files loaded from the data folder or file.</summary>
    public static IRealData Create(TrainingSettings settings) => Create(settings, null);

    /// <summary>
    /// The dataset of <paramref name="settings"/>; <paramref name="log"/> hears about long work (decoding an image folder).
    /// A points file or image folder that disagrees with a resolved <c>dimension</c> or <c>channels</c> is refused.
    /// </summary>
    public static IRealData Create(TrainingSettings settings, Action<string>? log)
    {
        // settings.DataShard >= 0 (an engine asking for a member's shard): an image folder reads only that shard's rows;
        // the other datasets are read whole and cut (their whole copy freed before this returns).
        var shard = settings.DataShards > 1 ? settings.DataShard : -1;
        IRealData data = settings.Dataset switch
        {
            DatasetKind.FashionMnist => FashionMnist.Load(settings.DataDir),
            DatasetKind.StackedFashionMnist => StackedFashionMnist.Load(settings.DataDir),
            DatasetKind.Points => PointCloud.Load(settings.DataFile),
            DatasetKind.Images => ImageFolder.Load(settings.DataDir, settings.ImageSize, settings.Channels, log,
                string.IsNullOrWhiteSpace(settings.DataCacheDir) ? null : settings.DataCacheDir, shard, settings.DataShards),
            _ => GaussianMixture.For(settings)!,
        };
        if (shard >= 0 && data is IShardable whole && whole.ShardIndex != shard)
        {
            var part = whole.Shard(shard, settings.DataShards);
            (whole as IDisposable)?.Dispose();
            data = part;
        }
        if (settings.Dataset == DatasetKind.Points && settings.Dimension > 0 && data.SampleShape[0] != settings.Dimension)
            throw new DatasetException($"{settings.DataFile}: points of dimension {data.SampleShape[0]}, but the run's dimension is {settings.Dimension} (the file changed since the run started?)");
        return data;
    }

    /// <summary>
    /// A data factory for a node that serves runs: the entities (and the coordinator's metrics) of one node that ask for
    /// the same data (dataset, files, image size, channels, shard) share one loaded copy. The last
    /// <paramref name="keep"/> distinct requests stay loaded; older ones are dropped (and freed once no entity holds them).
    /// </summary>
    public static Func<TrainingSettings, IRealData> Shared(Action<string>? log = null, int keep = 4)
    {
        var loaded = new List<(string Key, Lazy<IRealData> Data)>();
        return settings =>
        {
            var key = string.Join("|", SettingValues.Kebab(settings.Dataset), settings.DataDir, settings.DataFile, settings.ImageSize, settings.Channels,
                settings.DataCacheDir, settings.MixtureScale, settings.MixtureStd, settings.DataShards > 1 ? settings.DataShard : -1, settings.DataShards);
            Lazy<IRealData> data;
            lock (loaded)
            {
                var index = loaded.FindIndex(e => e.Key == key);
                if (index >= 0)
                {
                    data = loaded[index].Data;
                    loaded.RemoveAt(index);
                }
                else data = new Lazy<IRealData>(() => Create(settings, log));
                loaded.Add((key, data));
                if (loaded.Count > keep) loaded.RemoveAt(0);
            }
            try
            {
                return data.Value;
            }
            catch
            {
                // A failed load is not kept: the next request (the file fixed meanwhile) loads again.
                lock (loaded) loaded.RemoveAll(e => ReferenceEquals(e.Data, data));
                throw;
            }
        };
    }

    /// <summary>
    /// The data member <paramref name="member"/> trains on: <paramref name="data"/> itself without sharding or when it
    /// already is the member's shard (a node that loaded only that), else the member's shard cut from it (a process
    /// that holds the whole dataset: the reference engine, a one-node cluster).
    /// </summary>
    public static IRealData ForMember(IRealData data, TrainingSettings settings, int member)
    {
        var shard = settings.ShardOf(member);
        if (shard < 0) return data;
        if (data is not IShardable shardable)
            throw new SettingsException($"data-shards: {SettingValues.Kebab(settings.Dataset)} cannot be sharded");
        return shardable.ShardIndex == shard ? data
            : shardable.ShardIndex < 0 ? shardable.Shard(shard, settings.DataShards)
            : throw new InvalidOperationException($"member d-{member} trains on shard {shard}, but the data given holds shard {shardable.ShardIndex}");
    }

    /// <summary>
    /// <paramref name="settings"/> with what the data decides filled in (a points file's dimension, an image folder's
    /// channels), so that every node builds the same networks without reading the data (the generator's node never does).
    /// </summary>
    public static TrainingSettings Resolve(TrainingSettings settings, IRealData data) => settings.Dataset switch
    {
        DatasetKind.Points => settings with { Dimension = (int)data.SampleShape[0] },
        DatasetKind.Images => settings with { Channels = (int)data.SampleShape[0] },
        _ => settings,
    };

    /// <summary>The shape of one sample of the settings' dataset, without loading it (for the generator's node).</summary>
    public static long[] SampleShape(TrainingSettings settings) => settings.Dataset switch
    {
        DatasetKind.FashionMnist => [1, 28, 28],
        DatasetKind.StackedFashionMnist => [StackedFashionMnist.Channels, 28, 28],
        DatasetKind.Points => settings.Dimension > 0 ? [settings.Dimension] : throw Unresolved("dimension", "points file"),
        DatasetKind.Images => settings.Channels > 0 ? [settings.Channels, settings.ImageSize, settings.ImageSize] : throw Unresolved("channels", "image folder"),
        _ => [2],
    };

    private static SettingsException Unresolved(string key, string what)
        => new($"{key} is 0 (from the data) and this node has not read the {what}; the node that starts the run resolves it (or set {key})");

    /// <summary>
    /// Intra-op threads: the configured number, or for 0 ("auto") 1 thread for the 2-D MLPs (a second thread buys
    /// little on their 128-wide matmuls, measured in docs/engines.md, and one keeps results identical across machines
    /// with different core counts) and all cores for image models.
    /// </summary>
    public static int TorchThreads(TrainingSettings settings)
        => settings.TorchThreads > 0 ? settings.TorchThreads : settings.IsPointData ? 1 : Environment.ProcessorCount;

    /// <summary>Resolves <c>auto</c> to CUDA when available, otherwise CPU.</summary>
    public static Device ResolveDevice(DeviceKind kind) => kind switch
    {
        DeviceKind.Cpu => CPU,
        DeviceKind.Cuda => cuda.is_available() ? CUDA : throw new SettingsException("device=cuda but no CUDA device is available (build with -p:TorchBackend=cuda on a GPU host)"),
        _ => cuda.is_available() ? CUDA : CPU,
    };
}
