using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using Microsoft.Data.Sqlite;
using static TorchSharp.torch;
using AkkaGan.Cluster.Discriminator;
using AkkaGan.Cluster.Protocol;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using E = AkkaGan.Cluster.Protocol.EntityProtocol;
using S = AkkaGan.Cluster.Protocol.StateProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>Temporary folders for state stores, and the helpers every state-store spec uses.</summary>
internal static class StoreFixture
{
    public static string NewFolder()
    {
        var folder = Path.Combine(Path.GetTempPath(), "akkagan-store-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>The store a node of a run in <paramref name="folder"/> gets from cluster.hocon (the run's state.db).</summary>
    public static StateStore Sqlite(string folder, string runId = "") => StateStore.From(AkkaGanConfig.Default(), folder)!.ForRun(runId);

    /// <summary>An actor system's config with <paramref name="store"/> as its snapshot store and the AkkaGan serializer.</summary>
    public static Config SystemConfig(StateStore store)
    {
        store.Prepare();
        return store.Config().WithFallback(AkkaGanConfig.Default());
    }

    public static void Delete(string folder)
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a pool of a system that is shutting down: the temp folder is cleaned by the OS.
        }
    }

    /// <summary>A generator's real state (weights, Adam moments after one step) to store.</summary>
    public static EntitySnapshot GeneratorSnapshot(int seed)
    {
        var settings = new TrainingSettings { Batch = 16, HiddenUnits = 32, LatentDim = 8, Seed = seed };
        using var scope = NewDisposeScope();
        using var core = new GeneratorCore(settings, RunData.SampleShape(settings), CPU);
        return core.Snapshot();
    }

    /// <summary>The bytes a checkpoint file holds for <paramref name="snapshot"/>: equal bytes = bitwise equal state.</summary>
    public static byte[] Bytes(EntitySnapshot snapshot)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer)) CheckpointCodec.WriteEntity(writer, snapshot);
        return buffer.ToArray();
    }

    /// <summary>Loads the newest snapshot of <paramref name="persistenceId"/> at or below <paramref name="round"/> through the store.</summary>
    public static async Task<object?> LoadAsync(ActorSystem system, string persistenceId, long round = long.MaxValue)
    {
        var store = Akka.Persistence.Persistence.Instance.Apply(system).SnapshotStoreFor(null);
        var criteria = round == long.MaxValue ? SnapshotSelectionCriteria.Latest : new SnapshotSelectionCriteria(round, DateTime.MaxValue, round);
        var answer = await store.Ask<ISnapshotResponse>(new LoadSnapshot(persistenceId, criteria, round), TimeSpan.FromSeconds(30), CancellationToken.None);
        return Assert.IsType<LoadSnapshotResult>(answer).Snapshot?.Snapshot;
    }
}

/// <summary>The SQLite state store itself: settings, and snapshots through Akka.Persistence.Sql and the AkkaGan serializer.</summary>
public sealed class StateStoreSpecs : Akka.TestKit.Xunit.TestKit
{
    private readonly string _folder;

    public StateStoreSpecs() : this(StoreFixture.NewFolder()) { }

    private StateStoreSpecs(string folder) : base(StoreFixture.SystemConfig(StoreFixture.Sqlite(folder)), "state-store-spec") => _folder = folder;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        StoreFixture.Delete(_folder);
    }

    private IActorRef Store => Akka.Persistence.Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);

    [Fact]
    public async Task An_entity_snapshot_should_round_trip_through_the_store_bitwise()
    {
        var snapshot = StoreFixture.GeneratorSnapshot(seed: 1);
        Store.Tell(new SaveSnapshot(new SnapshotMetadata("run-a/g-0", 500, DateTime.UtcNow), new S.EntityState("g-0", 500, snapshot)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);

        var back = Assert.IsType<S.EntityState>(await StoreFixture.LoadAsync(Sys, "run-a/g-0", 500));
        Assert.Equal(("g-0", 500L), (back.EntityId, back.Round));
        Assert.Equal(StoreFixture.Bytes(snapshot), StoreFixture.Bytes(back.Snapshot));
        // Another round or run is another snapshot.
        Assert.Null(await StoreFixture.LoadAsync(Sys, "run-a/g-0", 499));
        Assert.Null(await StoreFixture.LoadAsync(Sys, "run-b/g-0"));
        Assert.True(File.Exists(Path.Combine(_folder, StateStore.FileName)));
    }

    [Fact]
    public async Task Saving_a_round_again_should_replace_its_snapshot()
    {
        // A roll-back replays rounds: the checkpoint round reached again overwrites the state stored for it.
        var first = StoreFixture.GeneratorSnapshot(seed: 1);
        var second = StoreFixture.GeneratorSnapshot(seed: 2);
        Assert.NotEqual(StoreFixture.Bytes(first), StoreFixture.Bytes(second));
        Store.Tell(new SaveSnapshot(new SnapshotMetadata("run-a/d-0", 20, DateTime.UtcNow), new S.EntityState("d-0", 20, first)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        Store.Tell(new SaveSnapshot(new SnapshotMetadata("run-a/d-0", 20, DateTime.UtcNow), new S.EntityState("d-0", 20, second)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);

        var back = Assert.IsType<S.EntityState>(await StoreFixture.LoadAsync(Sys, "run-a/d-0", 20));
        Assert.Equal(StoreFixture.Bytes(second), StoreFixture.Bytes(back.Snapshot));
    }

    [Fact]
    public async Task A_discriminator_should_store_its_checkpoint_round_and_a_fresh_one_should_recover_exactly_that_round()
    {
        var settings = new TrainingSettings { Batch = 16, HiddenUnits = 16, LatentDim = 8, Unroll = 1 };
        var json = SettingsJson.Serialize(settings);
        var d0 = new DiscriminatorId(0);
        var first = Sys.ActorOf(DiscriminatorActor.Props(d0, TestActor, RunData.Create, store: true));
        first.Tell(new E.Configure(d0.EntityId, 1, json, TestActor, "entity-run"));
        ExpectMsg<E.Configured>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        first.Tell(new E.GetSnapshot(d0.EntityId, 1, 5, TestActor));
        // Answered once stored: the row is there when the checkpoint completes.
        var taken = ExpectMsg<E.SnapshotTaken>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        var stored = Assert.IsType<S.EntityState>(await StoreFixture.LoadAsync(Sys, "entity-run/d-0", 5));
        Assert.Equal(StoreFixture.Bytes(taken.Snapshot), StoreFixture.Bytes(stored.Snapshot));

        // The member restarted elsewhere (a fresh entity, another seed so its initial weights differ) loads round 5.
        var other = settings with { Seed = 7 };
        var second = Sys.ActorOf(DiscriminatorActor.Props(d0, TestActor, RunData.Create, store: true));
        second.Tell(new E.Configure(d0.EntityId, 1, SettingsJson.Serialize(other), TestActor, "entity-run"));
        ExpectMsg<E.Configured>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        second.Tell(new E.RecoverFromStore(d0.EntityId, 1, 6, TestActor));
        Assert.Contains("no snapshot of entity-run/d-0 at round 6", ExpectMsg<E.Rejected>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken).Reason, StringComparison.Ordinal);
        second.Tell(new E.RecoverFromStore(d0.EntityId, 1, 5, TestActor));
        ExpectMsg<E.Restored>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        second.Tell(new E.GetSnapshot(d0.EntityId, 1, 5, TestActor));
        Assert.Equal(StoreFixture.Bytes(taken.Snapshot), StoreFixture.Bytes(ExpectMsg<E.SnapshotTaken>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken).Snapshot));

        // A node without a store says so; the coordinator then pushes the state.
        var storeless = Sys.ActorOf(DiscriminatorActor.Props(d0, TestActor, RunData.Create));
        storeless.Tell(new E.Configure(d0.EntityId, 1, json, TestActor, "entity-run"));
        ExpectMsg<E.Configured>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        storeless.Tell(new E.RecoverFromStore(d0.EntityId, 1, 5, TestActor));
        Assert.Contains("no state store", ExpectMsg<E.Rejected>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_sqlite_file_should_be_in_write_ahead_logging_mode()
    {
        using var connection = new SqliteConnection(StoreFixture.Sqlite(_folder).ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", command.ExecuteScalar() as string);
    }

    [Fact]
    public void Settings_should_default_to_the_runs_state_db_and_name_bad_values()
    {
        var store = StoreFixture.Sqlite(_folder);
        Assert.Equal(StateStoreProvider.Sqlite, store.Provider);
        Assert.Equal("SQLite.MS", store.ProviderName);
        Assert.Contains(Path.Combine(_folder, "state.db"), store.ConnectionString, StringComparison.Ordinal);
        // A node without a run folder and without a connection string has no store; off is off.
        Assert.Null(StateStore.From(AkkaGanConfig.Default()));
        Assert.Null(StateStore.From(ConfigurationFactory.ParseString("akkagan.persistence.enabled = off").WithFallback(AkkaGanConfig.Default()), _folder));

        Config With(string hocon) => ConfigurationFactory.ParseString(hocon).WithFallback(AkkaGanConfig.Default());
        var postgres = StateStore.From(With("akkagan.persistence { provider = postgresql, connection-string = \"Host=db;Database=akkagan;Username=u;Password=secret\" }"))!;
        Assert.Equal("PostgreSQL.15", postgres.ProviderName);
        Assert.DoesNotContain("secret", postgres.Describe(), StringComparison.Ordinal);
        Assert.Contains("akkagan.persistence.provider", Assert.Throws<SettingsException>(() => StateStore.From(With("akkagan.persistence.provider = mongo"))).Message, StringComparison.Ordinal);
        Assert.Contains("connection-string", Assert.Throws<SettingsException>(() => StateStore.From(With("akkagan.persistence.provider = postgresql"))).Message, StringComparison.Ordinal);
        Assert.Contains("run-id", Assert.Throws<SettingsException>(() => StateStore.From(With("akkagan.persistence.run-id = \"a/b\""), _folder)).Message, StringComparison.Ordinal);
        Assert.True(StateStore.ValidRunId(StateStore.NewRunId(Path.Combine(_folder, "my run"))));
    }
}

/// <summary>Several actor systems writing to one SQLite file at once, as nodes on one machine sharing a store do.</summary>
public sealed class SharedSqliteSpecs : IDisposable
{
    private readonly string _folder = StoreFixture.NewFolder();

    public void Dispose() => StoreFixture.Delete(_folder);

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Several_actor_systems_should_write_one_SQLite_file_concurrently_and_read_each_others_snapshots()
    {
        const int systems = 3, rounds = 12;
        var store = StoreFixture.Sqlite(_folder, "shared");
        var nodes = Enumerable.Range(0, systems).Select(i => ActorSystem.Create($"node{i}", StoreFixture.SystemConfig(store))).ToArray();
        try
        {
            var snapshots = Enumerable.Range(0, systems).Select(StoreFixture.GeneratorSnapshot).ToArray();
            // Every system saves its rounds at the same time as the others (each snapshot ~100 KB, one transaction each).
            var saves = nodes.SelectMany((system, i) => Enumerable.Range(1, rounds).Select(async round =>
            {
                var plugin = Akka.Persistence.Persistence.Instance.Apply(system).SnapshotStoreFor(null);
                var answer = await plugin.Ask<ISnapshotResponse>(
                    new SaveSnapshot(new SnapshotMetadata($"shared/d-{i}", round, DateTime.UtcNow), new S.EntityState($"d-{i}", round, snapshots[i])),
                    TimeSpan.FromSeconds(60), CancellationToken.None);
                return answer;
            })).ToArray();
            var answers = await Task.WhenAll(saves);
            Assert.All(answers, a => Assert.IsType<SaveSnapshotSuccess>(a));

            // Each system reads what the others wrote, bit for bit.
            for (var reader = 0; reader < systems; reader++)
                for (var writer = 0; writer < systems; writer++)
                    for (var round = 1; round <= rounds; round += 5)
                    {
                        var state = Assert.IsType<S.EntityState>(await StoreFixture.LoadAsync(nodes[reader], $"shared/d-{writer}", round));
                        Assert.Equal(StoreFixture.Bytes(snapshots[writer]), StoreFixture.Bytes(state.Snapshot));
                    }
        }
        finally
        {
            await Task.WhenAll(nodes.Select(n => n.Terminate()));
        }
    }
}
