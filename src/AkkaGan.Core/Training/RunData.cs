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
        IRealData data = settings.Dataset switch
        {
            DatasetKind.FashionMnist => FashionMnist.Load(settings.DataDir),
            DatasetKind.StackedFashionMnist => StackedFashionMnist.Load(settings.DataDir),
            DatasetKind.Points => PointCloud.Load(settings.DataFile),
            DatasetKind.Images => ImageFolder.Load(settings.DataDir, settings.ImageSize, settings.Channels, log,
                string.IsNullOrWhiteSpace(settings.DataCacheDir) ? null : settings.DataCacheDir),
            _ => GaussianMixture.For(settings)!,
        };
        if (settings.Dataset == DatasetKind.Points && settings.Dimension > 0 && data.SampleShape[0] != settings.Dimension)
            throw new DatasetException($"{settings.DataFile}: points of dimension {data.SampleShape[0]}, but the run's dimension is {settings.Dimension} (the file changed since the run started?)");
        return data;
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
