using Akka.Configuration;
using Akka.Hosting;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;

namespace AkkaGan.Cluster.Hosting;

/// <summary>The one-node cluster `akkagan train` runs, and the specs run.</summary>
public static class EmbeddedCluster
{
    /// <summary>
    /// One Akka node on 127.0.0.1 (ephemeral port) carrying all three roles and joined to itself, with the
    /// discriminator and generator shard regions and the coordinator singleton: <see cref="MemberOptions.Embedded"/>.
    /// Rounds ahead are on here (the in-process equivalence specs check them against the reference engine), whatever
    /// <c>akkagan.cluster.play-ahead</c> says for real nodes.
    /// </summary>
    public static AkkaConfigurationBuilder AddEmbeddedCluster(this AkkaConfigurationBuilder builder, Config config,
        Func<TrainingSettings, IRealData> data, TimeSpan stepTimeout, Persistence.StateStore? store = null)
        => builder.AddAkkaGanMember(config, MemberOptions.Embedded, data, stepTimeout, store, playAhead: true);
}
