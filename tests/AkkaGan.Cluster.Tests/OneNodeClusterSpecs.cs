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

    [Fact]
    [Trait("Category", "Slow")]
    public void A_one_node_cluster_should_train_to_the_reference_engines_parameters()
    {
        var settings = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = 4, EvalEvery = 2, CheckpointEvery = 4, EvalSamples = 200,
            Unroll = 2, Discriminators = 2, Aggregate = AggregationKind.Softmax,
        };
        var system = _host.Services.GetRequiredService<ActorSystem>();
        var registry = _host.Services.GetRequiredService<ActorRegistry>();
        var probe = new Akka.TestKit.Xunit2.TestKit(system).CreateTestProbe();
        registry.Get<CoordinatorSingleton>().Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));

        var (final, _) = EngineEquivalence.FollowToCompletion(probe, settings, TimeSpan.FromSeconds(90));
        EngineEquivalence.AssertSameAsReference(settings, final);
    }
}
