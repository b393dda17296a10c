using Akka.Actor;
using Akka.Hosting;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Data;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// The image path (DCGAN on the installed Fashion-MNIST) on the production one-node cluster, as
/// <c>akkagan train --engine cluster</c> wires it (the data loaded once and shared by the node's entities), compared
/// byte for byte with the reference engine. Needs the Debian package dataset-fashion-mnist; without it the specs fail
/// with the install command.
/// </summary>
/// <remarks>
/// Every run evaluates at its last round, and image evaluation needs the evaluation classifier, which would be
/// trained (minutes, and with a process-wide torch thread count) if none were cached. Each spec therefore caches an
/// untrained classifier under the key of the installed data in a folder of its own: both engines load it, nothing
/// trains. Metrics never feed back into training, so the classifier's weights cannot affect what is compared.
/// </remarks>
public sealed class ImageEngineSpecs : IAsyncLifetime
{
    private const string Installed = FashionMnist.DefaultDirectory;
    private readonly string _classifierDir = Directory.CreateTempSubdirectory("akkagan-classifier-").FullName;
    private FashionMnist _data = null!;
    private IHost _host = null!;

    public async ValueTask InitializeAsync()
    {
        foreach (var name in new[] { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz" })
        {
            var file = Path.Combine(Installed, name);
            Assert.True(File.Exists(file), $"{file} is missing: install Fashion-MNIST with 'sudo apt-get install dataset-fashion-mnist'");
        }
        var recipe = new ClassifierRecipe();
        using (var classifier = recipe.CreateModel()) classifier.save(ClassifierCache.PathFor(_classifierDir, Installed, recipe));
        using (var loaded = ClassifierCache.TryLoad(ClassifierCache.PathFor(_classifierDir, Installed, recipe), recipe))
            Assert.True(loaded is not null, "the cached classifier does not load: the run would train one");

        _data = FashionMnist.Load(Installed);
        _host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka("akkagan-spec", builder => builder
                .AddEmbeddedCluster(AkkaGanConfig.Default(), _ => _data, TimeSpan.FromSeconds(60))))
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
        _data?.Images.Dispose();   // 60,000 float32 images: not left to the finalizer
        _data?.Labels.Dispose();
        Directory.Delete(_classifierDir, recursive: true);
    }

    [Theory]
    [InlineData(0, UnrollOrder.First)]
    [InlineData(2, UnrollOrder.Second)]
    public void A_one_node_cluster_should_train_the_image_gan_to_the_reference_engines_bytes(int unroll, UnrollOrder order)
    {
        // Two critics, softmax-aggregated, so the generator step combines feedback in member order; the run's last
        // round evaluates and checkpoints. Every weight, batch-norm buffer and optimizer moment is compared.
        var settings = new TrainingSettings
        {
            Dataset = DatasetKind.FashionMnist, DataDir = Installed, ClassifierDir = _classifierDir, Device = DeviceKind.Cpu,
            Batch = 8, LatentDim = 16, Rounds = 3, EvalEvery = 3, CheckpointEvery = 3, EvalSamples = 64,
            Unroll = unroll, UnrollOrder = order, Discriminators = 2, Aggregate = AggregationKind.Softmax,
        };
        var system = _host.Services.GetRequiredService<ActorSystem>();
        var registry = _host.Services.GetRequiredService<ActorRegistry>();
        var probe = new Akka.TestKit.Xunit.TestKit(system).CreateTestProbe();
        registry.Get<CoordinatorSingleton>().Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));

        var (final, events) = EngineEquivalence.FollowToCompletion(probe, settings, TimeSpan.FromSeconds(120));
        var evaluation = Assert.Single(events.OfType<C.Evaluated>()).Report;
        Assert.NotNull(evaluation.Image);   // the image metrics ran, on the cached classifier
        Assert.Equal([1L, 28, 28], evaluation.SampleShape);
        EngineEquivalence.AssertSameAsReference(settings, final, actualEvents: events);
    }
}
