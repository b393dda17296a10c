using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using AkkaGan.Cluster.Configuration;
using AkkaGan.Cluster.Control;
using AkkaGan.Cluster.Generator;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Control;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using AkkaGan.Node.Control;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Node.Cli;

/// <summary>
/// The cluster engine, run from the coordinator's node: the embedded one-node cluster of `akkagan train` (remoting
/// on 127.0.0.1, an ephemeral port, all three roles) or a coordinator member of a multi-node cluster started by
/// `akkagan node`; both are wired with the same <c>Add*</c> list. The coordinator's events reach the run's
/// <see cref="ITrainingObserver"/> through <see cref="ObserverActor"/>, which also writes its checkpoints.
/// </summary>
internal static class ClusterEngine
{
    public const string EngineName = "cluster";

    /// <summary>This node, how many generator / discriminator nodes the first round waits for, and for how long.</summary>
    /// <param name="Standby">Take the coordinator over when the singleton moves to this node (<c>akkagan node --standby</c>).</param>
    public sealed record Topology(MemberOptions Member, int GeneratorNodes, int DiscriminatorNodes, TimeSpan WaitTimeout, bool Standby = false);

    public static Topology Embedded { get; } = new(MemberOptions.Embedded, 1, 1, TimeSpan.FromMinutes(1));

    /// <param name="run">What to train and who hears of it (<see cref="TrainCommand.RunInputs.Status"/>: state lines before training starts).</param>
    /// <param name="steering">The operator's requests: they reach the coordinator once it trains; a stop ends the wait for the cluster too.</param>
    /// <param name="node">This node's own settings; its state store names the run (null store: none, the checkpoints are the only state kept).</param>
    /// <param name="gan">The training's palette: the other nodes' control hosts forward to it once this node trains (a
    /// standby forwards its own <c>gan</c> commands to the node that trains until it takes over), and its watchers hear
    /// of the end while this node is still in the cluster, so a forwarded <c>gan watch</c> gets its last line.</param>
    public static async Task<C.TrainingFinished> RunAsync(Config config, Topology topology, NodeSettings node, TrainCommand.RunInputs run, GanPalette gan, ClusterSteering steering)
    {
        var (settings, data, resume, observer, checkpoints, status, started, startControl) = run;
        var cancellation = steering.Stopping;
        var store = node.Store;
        using var host = BuildHost(config, topology.Member, _ => data, signalsStopTheNode: false, node, line => status($"discovery: {line}"));
        await Runtime.AkkaPort.StartAsync(host, topology.Member, cancellation).ConfigureAwait(false);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            using var health = Runtime.HealthEndpoint.Start(system, topology.Member.Roles, node.Probes);
            if (health is not null) status($"health at {health.Address}/alive and /ready");
            startControl([new ClusterPalette(system), new ShardingPalette(system), new ActorPalette(system)]);
            var registry = host.Services.GetRequiredService<ActorRegistry>();
            var finished = new TaskCompletionSource<C.TrainingFinished>(TaskCreationOptions.RunContinuationsAsynchronously);
            _ = system.WhenTerminated.ContinueWith(_ => finished.TrySetResult(new C.TrainingFinished(-1, false, "the actor system terminated")), TaskScheduler.Default);
            // The embedded node is its own cluster and ready within a second or two: nothing to tell the user.
            var embedded = topology.Member == MemberOptions.Embedded;
            if (!embedded) status($"node {Akka.Cluster.Cluster.Get(system).SelfAddress} started, roles {string.Join(",", topology.Member.Roles)}, {NodeCommand.Joins(topology.Member)}");
            try
            {
                var standby = topology.Standby;
                if (!embedded && await TrainingElsewhereAsync(system, topology.WaitTimeout, cancellation).ConfigureAwait(false) is { } elsewhere)
                {
                    // Typically the first coordinator node restarted (by its orchestrator) after a standby took its run
                    // over: with the run's id and a shared store it becomes the new standby instead of failing.
                    var missing = standby ? [] : NodeCommand.StandbyMissing(config);
                    if (missing.Count > 0)
                        return new C.TrainingFinished(resume?.Metadata.Round ?? 0, false,
                            $"a training already runs on {elsewhere.Address}; this node cannot take it over without {string.Join(" and ", missing)} " +
                            "(start it with those and --standby to stand by for that run)");
                    // A standby continues the run whose id it is given: standing by for another run would start that one later.
                    if (elsewhere.RunId.Length > 0 && elsewhere.RunId != store?.RunId)
                        return new C.TrainingFinished(resume?.Metadata.Round ?? 0, false,
                            $"the training on {elsewhere.Address} is run {elsewhere.RunId}, but this node's akkagan.persistence.run-id is {store?.RunId}; " +
                            $"give it run-id {elsewhere.RunId} to stand by for that run");
                    if (!standby) status($"a training already runs on {elsewhere.Address}: this node stands by for run {store?.RunId} (as with --standby)");
                    standby = true;
                }
                if (standby)
                {
                    // Until this node trains, its gan commands are the running training's.
                    gan.ForwardTo(new RelayedPalette(system, GanPalette.Described, Roles.Coordinator,
                        $"no node trains run {store?.RunId} right now: this node stands by and takes it over once the coordinator's node has left " +
                        "the cluster or been downed (akkagan-ctl HOST:PORT cluster show lists the members)"));
                    try
                    {
                        await TakeOverAsync(system, status, cancellation).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // Stopped while standing by (the usual way to stop a standby): no run of its own to summarize.
                        return new C.TrainingFinished(0, false, $"stopped while standing by for run {store?.RunId}: it took nothing over and trained nothing", true);
                    }
                    finally
                    {
                        gan.ForwardTo(null);
                    }
                    status($"taking the coordinator over: run {store?.RunId} continues from the state store's position");
                }
                ControlRelay.Start(system, [gan], store?.RunId ?? "");
                await ClusterReadiness.WaitAsync(system, registry, topology.GeneratorNodes, topology.DiscriminatorNodes,
                    state => { if (!embedded) status($"waiting for the cluster: {state}"); }, topology.WaitTimeout, cancellation).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return new C.TrainingFinished(resume?.Metadata.Round ?? 0, false, "stopped");
            }
            catch (TimeoutException e)
            {
                return new C.TrainingFinished(resume?.Metadata.Round ?? 0, false, e.Message);
            }
            var coordinator = registry.Get<CoordinatorSingleton>();
            Action<string> placement = embedded ? _ => { } : status;
            var events = system.ActorOf(Props.Create(() => new ObserverActor(observer, checkpoints, placement, finished)).WithDispatcher(Roles.OutputDispatcher), "run-observer");
            started();
            coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), resume, events, store?.RunId ?? ""));
            using var stop = cancellation.Register(() => coordinator.Tell(new C.StopTraining()));
            // The operator's requests go to the coordinator, which acts between rounds; samples come from the generator
            // entity directly (its mailbox orders them between its steps).
            steering.Attach(coordinator, count => GeneratorSamples.FetchAsync(system, registry.Get<GeneratorRegion>(), count, node.StepTimeout));
            var result = await finished.Task.ConfigureAwait(false);
            gan.Finished(result.Round, result.Completed);
            await ControlRelay.DrainAsync(system, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            return result;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The other coordinator-role node that already trains (its control relay answers) and its run id, once this node is
    /// Up and sees the members; null when none does, or when this node is not Up within <paramref name="wait"/> (the
    /// readiness wait that follows reports that).
    /// </summary>
    private static async Task<(Akka.Actor.Address Address, string RunId)?> TrainingElsewhereAsync(ActorSystem system, TimeSpan wait, CancellationToken cancellation)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var deadline = DateTime.UtcNow + wait;
        while (cluster.SelfMember.Status != Akka.Cluster.MemberStatus.Up)
        {
            if (DateTime.UtcNow > deadline) return null;
            await Task.Delay(200, cancellation).ConfigureAwait(false);
        }
        var candidates = ControlRelay.Candidates(cluster, Roles.Coordinator);
        if (candidates.Count == 0 || await ControlRelay.FindServerAsync(system, candidates, cancellation).ConfigureAwait(false) is not { } found) return null;
        return (found.Address, await ControlRelay.RunServedAsync(found.Server, cancellation).ConfigureAwait(false));
    }

    /// <summary>
    /// Waits until the coordinator singleton belongs on this node: it runs on the oldest Up member with the coordinator
    /// role, so a standby's turn comes when every older coordinator node has left the cluster or been downed.
    /// </summary>
    private static async Task TakeOverAsync(ActorSystem system, Action<string> status, CancellationToken cancellation)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        string? reported = null;
        while (true)
        {
            // A coordinator node that is leaving still holds the singleton until it is removed: taking over before that
            // would send the start to the old coordinator (which has just finished its run, or is handing over).
            var oldest = cluster.State.Members
                .Where(m => m.Status is Akka.Cluster.MemberStatus.Up or Akka.Cluster.MemberStatus.Leaving or Akka.Cluster.MemberStatus.Exiting && m.HasRole(Roles.Coordinator))
                .OrderBy(m => m, Akka.Cluster.Member.AgeOrdering).FirstOrDefault();
            if (oldest is not null && oldest.Address == cluster.SelfAddress) return;
            var where = oldest?.Address.ToString() ?? "(not up yet)";
            if (where != reported) status($"standby: the coordinator runs on {where}; this node takes it over when that node leaves or is downed");
            reported = where;
            await Task.Delay(500, cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The host of one AkkaGan node. <paramref name="signalsStopTheNode"/>: Ctrl-C / SIGTERM leave the cluster through
    /// CoordinatedShutdown (worker nodes); otherwise they belong to the caller (the coordinator's node stops after the
    /// round, checkpoints and summarises first).
    /// </summary>
    /// <param name="node">The node's own settings (step timeout, state store).</param>
    /// <param name="report">Hears how discovery finds the cluster (<see cref="MemberOptions.Discovery"/>).</param>
    public static IHost BuildHost(Config config, MemberOptions member, Func<TrainingSettings, IRealData> data, bool signalsStopTheNode, NodeSettings node,
        Action<string>? report = null)
        => new HostBuilder()
            .ConfigureServices(services =>
            {
                if (!signalsStopTheNode) services.AddSingleton<IHostLifetime, CallerControlledLifetime>();
            })
            .ConfigureServices(services => services.AddAkka(MemberOptions.SystemName, builder =>
            {
                // A singleton proxy's "failed to find" warnings while the cluster forms are noise.
                builder.AddHocon("akka.cluster.singleton-proxy.log-singleton-identification-failure = off", HoconAddMode.Prepend);
                if (!signalsStopTheNode) builder.AddHocon("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off", HoconAddMode.Prepend);
                builder.AddAkkaGanMember(config, member, data, node, report);
            }))
            .Build();

    /// <summary>A host lifetime that leaves signals to the caller.</summary>
    private sealed class CallerControlledLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Hands the coordinator's events to the observer (outputs, progress) and writes checkpoints.</summary>
    private sealed class ObserverActor : ReceiveActor
    {
        public ObserverActor(ITrainingObserver observer, CheckpointStore checkpoints, Action<string> placement, TaskCompletionSource<C.TrainingFinished> finished)
        {
            Receive<C.Placed>(m =>
            {
                placement("placement: " + string.Join(", ", m.Nodes.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} @ {e.Value}")));
                observer.OnPlaced(m.Nodes);
            });
            Receive<C.RunChanged>(m => observer.OnChange(m.Report));
            Receive<C.Faulted>(m => observer.OnFault(m.Report));
            Receive<C.RoundCompleted>(m => observer.OnRound(m.Report));
            Receive<C.Evaluated>(m => observer.OnEvaluation(m.Report));
            Receive<C.HealthDiagnosed>(m => observer.OnHealth(m.Report));
            Receive<C.Evolved>(m => observer.OnEvolution(m.Report));
            Receive<C.CheckpointTaken>(m => observer.OnCheckpoint(m.Checkpoint.Metadata.Round, checkpoints.Save(m.Checkpoint)));
            Receive<C.TrainingFinished>(m => finished.TrySetResult(m));
        }
    }
}
