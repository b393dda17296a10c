using Akka.Actor;
using Akka.Hosting;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// The production wiring (the same <c>Add*</c> calls a node makes) on a real one-node Akka cluster with all three
/// roles: sharded generator and discriminators, the coordinator as a singleton.
/// </summary>
public sealed class OneNodeClusterSpecs : IAsyncLifetime
{
    private IHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka("akkagan-spec", builder => builder
                .AddEmbeddedCluster(AkkaGanConfig.Default(), RunData.Create, TimeSpan.FromSeconds(30))))
            .Build();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    [Trait("Category", "Slow")]
    public void A_one_node_cluster_should_train_to_the_reference_engines_parameters(bool heterogeneous)
    {
        var settings = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = 4, EvalEvery = 2, CheckpointEvery = 4, EvalSamples = 200,
            Unroll = 2, Discriminators = 2, Aggregate = AggregationKind.Softmax,
        };
        if (heterogeneous)
        {
            // Three critics with their own loss, learning rate and regularizer, evolving between them.
            settings = settings with
            {
                Discriminators = 3, EvolveEvery = 2,
                Members = [new() { Loss = LossKind.Hinge, LrD = 5e-4 }, new() { Loss = LossKind.LeastSquares, R1Gamma = 1 }],
            };
        }
        var system = _host.Services.GetRequiredService<ActorSystem>();
        var registry = _host.Services.GetRequiredService<ActorRegistry>();
        var probe = new Akka.TestKit.Xunit2.TestKit(system).CreateTestProbe();
        registry.Get<CoordinatorSingleton>().Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));

        var (final, _) = EngineEquivalence.FollowToCompletion(probe, settings, TimeSpan.FromSeconds(90));
        EngineEquivalence.AssertSameAsReference(settings, final);
    }
}
