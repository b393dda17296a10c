using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Settings;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>Hosting: the coordinator as a cluster singleton on the <c>coordinator</c> role, with its proxy registered.</summary>
public static class CoordinatorHosting
{
    /// <summary>Starts the singleton (needs both regions or proxies registered first).</summary>
    /// <param name="builder">The node's Akka configuration.</param>
    /// <param name="stepTimeout">The time entities have to answer a round's requests (<c>akkagan.cluster.step-timeout</c>); setup and work
    /// between rounds get longer.</param>
    /// <param name="metrics">The evaluation's metrics for a run's settings (default: loads the real data the settings name).</param>
    /// <param name="store">Whether the node has a state store: the coordinator saves its position and has entities recover from their snapshots.</param>
    /// <param name="playAhead">Whether the next round is sent ahead of the current one's result (<c>akkagan.cluster.play-ahead</c>).</param>
    public static AkkaConfigurationBuilder AddCoordinator(this AkkaConfigurationBuilder builder, TimeSpan stepTimeout, Func<TrainingSettings, EvaluationMetrics>? metrics = null,
        bool store = false, bool playAhead = false)
        => builder.WithSingleton<CoordinatorSingleton>("coordinator",
            (_, registry, _) => CoordinatorActor.Props(registry.Get<GeneratorRegion>(), registry.Get<DiscriminatorRegion>(), stepTimeout, metrics, store, playAhead),
            new ClusterSingletonOptions { Role = Roles.Coordinator });
}
