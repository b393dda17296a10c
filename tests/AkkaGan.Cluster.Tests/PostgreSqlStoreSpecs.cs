using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using AkkaGan.Cluster.Persistence;
using Npgsql;
using S = AkkaGan.Cluster.Protocol.StateProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// The state store's PostgreSQL switch: the same code with <c>akkagan.persistence.provider = postgresql</c>. The server is
/// <c>AKKAGAN_TEST_POSTGRES</c> (an Npgsql connection string), else the local one <c>./build.sh test</c> sets up.
/// </summary>
public sealed class PostgreSqlStoreSpecs : Akka.TestKit.Xunit.TestKit
{
    private static readonly string Connection = Environment.GetEnvironmentVariable("AKKAGAN_TEST_POSTGRES") is { Length: > 0 } given
        ? given
        : "Host=127.0.0.1;Port=5432;Database=akkagan_test;Username=akkagan;Password=akkagan";

    public PostgreSqlStoreSpecs() : base(StoreFixture.SystemConfig(Store("unused")), "postgres-store-spec") { }

    /// <summary>The store cluster.hocon gives with the postgresql provider, under a run id of its own (specs never share rows).</summary>
    private static StateStore Store(string runId)
    {
        var quoted = System.Text.Json.JsonSerializer.Serialize(Connection);
        var config = ConfigurationFactory.ParseString($"akkagan.persistence {{ provider = postgresql, connection-string = {quoted} }}")
            .WithFallback(AkkaGanConfig.Default());
        return StateStore.From(config)!.ForRun(runId);
    }

    private static string NewRunId() => "pg-spec-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Fails with the fix when the server cannot be reached (never skipped).</summary>
    private static void ServerIsUp()
    {
        try
        {
            using var connection = new NpgsqlConnection(Connection);
            connection.Open();
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            Assert.Fail($"PostgreSQL is not reachable ({e.Message}). Run ./build.sh test as root (it starts the Debian server and creates " +
                        "the akkagan_test database), or set AKKAGAN_TEST_POSTGRES to an Npgsql connection string of a database the specs may write.");
        }
    }

    [Fact]
    public async Task A_PostgreSQL_store_should_round_trip_an_entity_snapshot_bitwise()
    {
        ServerIsUp();
        var run = NewRunId();
        var snapshot = StoreFixture.GeneratorSnapshot(seed: 3);
        var store = Akka.Persistence.Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        store.Tell(new SaveSnapshot(new SnapshotMetadata($"{run}/d-1", 40, DateTime.UtcNow), new S.EntityState("d-1", 40, snapshot)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);

        var back = Assert.IsType<S.EntityState>(await StoreFixture.LoadAsync(Sys, $"{run}/d-1", 40));
        Assert.Equal(StoreFixture.Bytes(snapshot), StoreFixture.Bytes(back.Snapshot));
        Assert.Null(await StoreFixture.LoadAsync(Sys, $"{run}/d-1", 39));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public Task A_one_node_cluster_should_write_its_checkpoint_rounds_to_PostgreSQL()
    {
        ServerIsUp();
        return OneNodeStateStoreSpecs.TrainAndCompareWithStoreAsync(Store(NewRunId()));
    }
}
