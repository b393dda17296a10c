using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Node.Cli;

/// <summary>
/// The embedded cluster engine: a real one-node Akka cluster (remoting on 127.0.0.1, an ephemeral port) carrying all
/// three roles, wired with the same <c>Add*</c> calls a multi-node deployment uses. The coordinator's events reach
/// the run's <see cref="ITrainingObserver"/> through <see cref="ObserverActor"/>, which also writes its checkpoints.
/// </summary>
internal static class ClusterEngine
{
    public const string EngineName = "cluster";

    /// <param name="started">Called once the node is up, just before training starts (throughput is measured from here).</param>
    public static async Task<C.TrainingFinished> RunAsync(Config config, TrainingSettings settings, IRealData data, Checkpoint? resume,
        ITrainingObserver observer, CheckpointStore checkpoints, Action started, CancellationToken cancellation)
    {
        using var host = new HostBuilder()
            // Ctrl-C and SIGTERM belong to `akkagan train` (stop after the round, checkpoint, summarise), not to the
            // host's console lifetime, which would tear the actor system down mid-round.
            .ConfigureServices(services => services.AddSingleton<IHostLifetime, CallerControlledLifetime>())
            .ConfigureServices(services => services.AddAkka("akkagan", builder => builder
                // The singleton is local here; the proxy's "failed to find" warnings during start and stop are noise.
                // Signals are handled by `akkagan train` (stop after the round), so Akka must not shut down on them.
                .AddHocon("""
                    akka.cluster.singleton-proxy.log-singleton-identification-failure = off
                    akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
                    """, HoconAddMode.Prepend)
                .AddEmbeddedCluster(config, _ => data, TimeSpan.FromSeconds(60))))
            .Build();
        await host.StartAsync(cancellation).ConfigureAwait(false);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var coordinator = host.Services.GetRequiredService<ActorRegistry>().Get<CoordinatorSingleton>();
            var finished = new TaskCompletionSource<C.TrainingFinished>(TaskCreationOptions.RunContinuationsAsynchronously);
            var events = system.ActorOf(Props.Create(() => new ObserverActor(observer, checkpoints, finished)), "run-observer");
            _ = system.WhenTerminated.ContinueWith(_ => finished.TrySetResult(new C.TrainingFinished(-1, false, "the actor system terminated")), TaskScheduler.Default);
            started();
            coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), resume, events));
            using var stop = cancellation.Register(() => coordinator.Tell(new C.StopTraining()));
            return await finished.Task.ConfigureAwait(false);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>A host lifetime that leaves signals to the caller.</summary>
    private sealed class CallerControlledLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Hands the coordinator's events to the observer (outputs, progress) and writes checkpoints.</summary>
    private sealed class ObserverActor : ReceiveActor
    {
        public ObserverActor(ITrainingObserver observer, CheckpointStore checkpoints, TaskCompletionSource<C.TrainingFinished> finished)
        {
            Receive<C.RoundCompleted>(m => observer.OnRound(m.Report));
            Receive<C.Evaluated>(m => observer.OnEvaluation(m.Report));
            Receive<C.Evolved>(m => observer.OnEvolution(m.Report));
            Receive<C.CheckpointTaken>(m => observer.OnCheckpoint(m.Checkpoint.Metadata.Round, checkpoints.Save(m.Checkpoint)));
            Receive<C.TrainingFinished>(m => finished.TrySetResult(m));
        }
    }
}
