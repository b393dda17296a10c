using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// Several ActorSystems in one process, joined over real remoting on loopback (the pattern of Akka.NET's own sharding
/// specs; the MultiNode runner is not available). Each spec starts its nodes in <see cref="IAsyncLifetime.InitializeAsync"/>
/// with <see cref="Node"/>; they are stopped in reverse order at the end.
/// </summary>
public abstract class MultiNodeSpec : IAsyncLifetime
{
    /// <summary>The nodes started so far (a spec that stops one itself removes it).</summary>
    protected List<IHost> Hosts { get; } = [];

    /// <summary>The actor system's name of every node.</summary>
    protected abstract string SystemName { get; }

    /// <summary>HOCON every node takes before the AkkaGan defaults (frame sizes, resolver timings, transport adapters).</summary>
    protected virtual string Hocon => "";

    public abstract ValueTask InitializeAsync();

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var host in Enumerable.Reverse(Hosts))
        {
            await host.StopAsync();
            host.Dispose();
        }
        GC.SuppressFinalize(this);
    }

    protected static ActorSystem System(IHost host) => host.Services.GetRequiredService<ActorSystem>();

    protected static Address AddressOf(IHost host) => Akka.Cluster.Cluster.Get(System(host)).SelfAddress;

    /// <summary>Starts a node with <paramref name="roles"/> that joins <paramref name="seed"/> (null: itself) and hosts <paramref name="entities"/>.</summary>
    protected async Task<IHost> Node(string[] roles, Address? seed, Action<AkkaConfigurationBuilder> entities)
    {
        var host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka(SystemName, builder =>
            {
                if (Hocon.Length > 0) builder.AddHocon(Hocon, HoconAddMode.Prepend);
                builder.AddHocon(AkkaGanConfig.Default(), HoconAddMode.Append)
                    .WithRemoting("127.0.0.1", 0)
                    .WithClustering(new ClusterOptions { Roles = roles })
                    .AddStartup((system, _) => Akka.Cluster.Cluster.Get(system).Join(seed ?? Akka.Cluster.Cluster.Get(system).SelfAddress));
                entities(builder);
            }))
            .Build();
        await host.StartAsync();
        Hosts.Add(host);
        return host;
    }
}
