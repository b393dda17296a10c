using System.Globalization;
using Akka.Actor;
using Akka.Hosting;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SkiaSharp;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// A user's data (a points file of dimension 3, a folder of RGB images at 16x16) on the production one-node cluster,
/// the data created from the run's settings as <c>akkagan train</c> does, compared byte for byte with the reference
/// engine; the evaluations measure the distances to the held-out samples.
/// </summary>
public sealed class UserDataEngineSpecs : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-userdata-engine-").FullName;
    private IHost _host = null!;

    public async ValueTask InitializeAsync()
    {
        _host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka("akkagan-spec", builder => builder
                .AddEmbeddedCluster(AkkaGanConfig.Default(), settings => RunData.Create(settings), TimeSpan.FromSeconds(60))))
            .Build();
        await _host.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>With <c>data-shards 2</c>, each entity asks the node's factory for its member's shard and loads only that; the reference engine cuts the shards from the whole file: the same rows, the same bytes.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void A_points_file_should_train_on_the_cluster_to_the_reference_engines_bytes(int shards)
    {
        var file = Path.Combine(_dir, "cloud.csv");
        var random = new Random(5);
        File.WriteAllLines(file, ["a,b,c", .. Enumerable.Range(0, 400).Select(_ =>
            string.Create(CultureInfo.InvariantCulture, $"{random.NextDouble() * 4 - 2},{random.NextDouble()},{random.Next(3) * 3.0}"))]);
        var settings = Resolved(new TrainingSettings
        {
            Dataset = DatasetKind.Points, DataFile = file, Device = DeviceKind.Cpu, Batch = 32, HiddenUnits = 16, LatentDim = 8,
            Rounds = 6, EvalEvery = 3, CheckpointEvery = 3, EvalSamples = 200, Unroll = 2, Discriminators = 2, Aggregate = AggregationKind.Softmax,
            DataShards = shards,
        });
        Assert.Equal(3, settings.Dimension);

        var (final, events) = Train(settings);
        var evaluations = events.OfType<C.Evaluated>().Select(e => e.Report).ToArray();
        Assert.Equal(2, evaluations.Length);
        Assert.All(evaluations, e =>
        {
            Assert.Equal([3L], e.SampleShape);
            Assert.Null(e.Mixture);   // no known modes: the distances judge the run
            Assert.True(e.Distance is { Mmd: not null } d && d.SlicedWasserstein > 0, "no distances to the held-out points");
        });
        EngineEquivalence.AssertSameAsReference(settings, final, actualEvents: events);
    }

    [Fact]
    public void An_image_folder_should_train_on_the_cluster_to_the_reference_engines_bytes()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "images")).FullName;
        var random = new Random(9);
        for (var i = 0; i < 30; i++)
        {
            using var bitmap = new SKBitmap(new SKImageInfo(20, 24, SKColorType.Rgba8888, SKAlphaType.Opaque));
            for (var y = 0; y < 24; y++)
                for (var x = 0; x < 20; x++)
                    bitmap.SetPixel(x, y, new SKColor((byte)random.Next(256), (byte)(x * 12), (byte)(y * 10)));
            using var image = SKImage.FromBitmap(bitmap);
            using var png = image.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(folder, $"{i:D2}.png"), png.ToArray());
        }
        var settings = Resolved(new TrainingSettings
        {
            Dataset = DatasetKind.Images, DataDir = folder, DataCacheDir = Path.Combine(_dir, "cache"), ImageSize = 16, Device = DeviceKind.Cpu,
            Batch = 8, LatentDim = 8, Rounds = 3, EvalEvery = 3, CheckpointEvery = 3, EvalSamples = 16, Unroll = 0, Discriminators = 1,
        });
        Assert.Equal(3, settings.Channels);

        var (final, events) = Train(settings);
        var evaluation = Assert.Single(events.OfType<C.Evaluated>()).Report;
        Assert.Equal([3L, 16, 16], evaluation.SampleShape);
        Assert.Null(evaluation.Image);   // no classifier for a user's images: the distance on pixels judges the run
        Assert.True(evaluation.Distance is { Mmd: null } d && d.SlicedWasserstein > 0, "no sliced distance to the held-out images");
        EngineEquivalence.AssertSameAsReference(settings, final, actualEvents: events);
    }

    /// <summary>The settings as the node that starts a run resolves them from the data (dimension, channels).</summary>
    private static TrainingSettings Resolved(TrainingSettings settings)
    {
        var data = RunData.Create(settings);
        try
        {
            return RunData.Resolve(settings, data).Validate();
        }
        finally
        {
            (data as IDisposable)?.Dispose();
        }
    }

    private (Core.Checkpoints.Checkpoint? Final, List<object> Events) Train(TrainingSettings settings)
    {
        var system = _host.Services.GetRequiredService<ActorSystem>();
        var registry = _host.Services.GetRequiredService<ActorRegistry>();
        var probe = new Akka.TestKit.Xunit.TestKit(system).CreateTestProbe();
        registry.Get<CoordinatorSingleton>().Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));
        return EngineEquivalence.FollowToCompletion(probe, settings, TimeSpan.FromSeconds(120));
    }
}
