using Akka.Cluster.Hosting;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Remote.Hosting;
using AkkaGan.Cluster.Coordinator;
using AkkaGan.Cluster.Discriminator;
using AkkaGan.Cluster.Generator;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;

namespace AkkaGan.Cluster.Hosting;

/// <summary>The one-node cluster `akkagan train --engine cluster` runs, and the specs run: one list of Add* calls.</summary>
public static class EmbeddedCluster
{
    /// <summary>
    /// One Akka node on 127.0.0.1 (ephemeral port) carrying all three roles and joined to itself, with the
    /// discriminator and generator shard regions and the coordinator singleton.
    /// </summary>
    public static AkkaConfigurationBuilder AddEmbeddedCluster(this AkkaConfigurationBuilder builder, Config config,
        Func<TrainingSettings, IRealData> data, TimeSpan stepTimeout)
        => builder
            .AddHocon(config, HoconAddMode.Append)
            .WithRemoting("127.0.0.1", 0)
            .WithClustering(new ClusterOptions { Roles = [Roles.Coordinator, Roles.Generator, Roles.Discriminator] })
            .AddStartup((system, _) => Akka.Cluster.Cluster.Get(system).Join(Akka.Cluster.Cluster.Get(system).SelfAddress))
            .AddDiscriminators(data)
            .AddGenerator()
            .AddCoordinator(stepTimeout);
}
