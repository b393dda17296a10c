using System.Threading.Channels;
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
/// Specs that read process-wide counters (the live TorchSharp tensors of every thread). xUnit runs this collection
/// alone, after the parallel ones: another spec's tensors would change the count under them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideCounters
{
    public const string Name = "process-wide counters";
}

/// <summary>
/// Flat memory on long runs, as a regression check rather than a timing: a long run on the embedded one-node cluster
/// ends with exactly as many tensors alive as a short one (its actors compute on their own threads, so the count is
/// the process's). <c>akkagan bench soak</c> measures the resident set over 100,000 rounds.
/// </summary>
[Collection(ProcessWideCounters.Name)]
public sealed class FlatMemorySpecs
{
    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_long_run_should_end_with_as_many_tensors_alive_as_a_short_one()
    {
        // Every long-lived path a round can take: critic and lookahead steps, evaluations, checkpoints, evolution.
        var settings = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, EvalEvery = 4, CheckpointEvery = 6, EvalSamples = 200,
            Unroll = 2, Discriminators = 2, EvolveEvery = 4, LrDecay = LrDecay.None,
        };
        var afterShort = await TensorsAddedBy(settings with { Rounds = 8 });
        var afterLong = await TensorsAddedBy(settings with { Rounds = 48 });
        Assert.True(afterLong == afterShort, $"an 8-round run ended with {afterShort} more tensors alive, a 48-round one with {afterLong}");
    }

    /// <summary>
    /// Trains <paramref name="settings"/> to the end on a fresh one-node cluster and returns how many more tensors are
    /// alive then (entities, optimizer state, evaluation state) than before the node started.
    /// </summary>
    private static async Task<long> TensorsAddedBy(TrainingSettings settings)
    {
        var before = LiveTensors();
        using var host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka("akkagan-memory-spec",
                builder => builder.AddEmbeddedCluster(AkkaGanConfig.Default(), RunData.Create, TimeSpan.FromSeconds(30))))
            .Build();
        var ct = TestContext.Current.CancellationToken;
        await host.StartAsync(ct);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var events = Channel.CreateUnbounded<object>();
            var observer = system.ActorOf(Props.Create(() => new ToChannel(events.Writer)));
            var coordinator = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<CoordinatorSingleton>(ct);
            coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, observer));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromMinutes(3));
            C.TrainingFinished? finished = null;
            while (finished is null) finished = await events.Reader.ReadAsync(timeout.Token) as C.TrainingFinished;
            Assert.True(finished.Completed, finished.Reason);
            Assert.Equal(settings.Rounds, finished.Round);
            // The node is idle now (the final evaluation and checkpoint are done) and its entities still hold their state.
            return LiveTensors() - before;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Tensors still referenced: one dropped without Dispose is garbage until its finalizer runs.</summary>
    private static long LiveTensors()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        return TorchSharp.torch.Tensor.TotalCount;
    }

    private sealed class ToChannel : ReceiveActor
    {
        public ToChannel(ChannelWriter<object> events) => ReceiveAny(m => events.TryWrite(m));
    }
}
