using System.Globalization;
using Akka.Configuration;
using Akka.Hosting;
using AkkaGan.Core.Settings;
using Microsoft.Data.Sqlite;

namespace AkkaGan.Cluster.Persistence;

/// <summary>Which database holds the entities' snapshots and the coordinator's position.</summary>
public enum StateStoreProvider
{
    /// <summary>One SQLite file (Microsoft.Data.Sqlite; WAL, busy timeout): the run's <c>state.db</c> by default.</summary>
    Sqlite,

    /// <summary>A PostgreSQL server (Npgsql): what nodes on several hosts share.</summary>
    PostgreSql,
}

/// <summary>
/// The <c>akkagan.persistence</c> section of cluster.hocon turned into Akka.Persistence.Sql's snapshot store
/// (<c>akka.persistence.snapshot-store.sql</c>, Linq2Db, tables created on first use). The same code serves SQLite and
/// PostgreSQL; only the provider name, the table mapping and the connection string differ.
/// </summary>
/// <param name="RunId">
/// Names the run in every persistence id (<c>&lt;run-id&gt;/d-0</c>); empty on nodes that only host entities (the coordinator
/// sends it).
/// </param>
public sealed record StateStore(StateStoreProvider Provider, string ConnectionString, string RunId = "")
{
    /// <summary>The configuration section this type reads.</summary>
    public const string Section = "akkagan.persistence";

    /// <summary>The SQLite file of a run, under its output folder.</summary>
    public const string FileName = "state.db";

    /// <summary>Linq2Db's provider name for the provider (a specific version avoids Linq2Db's detection).</summary>
    public string ProviderName => Provider == StateStoreProvider.Sqlite ? "SQLite.MS" : "PostgreSQL.15";

    /// <summary>
    /// The store a node uses, or null when <c>akkagan.persistence.enabled</c> is off or no store is named (a SQLite
    /// provider with an empty connection string on a node that has no run folder: it hosts entities only, and their
    /// recovery falls back to the coordinator's push). Throws a <see cref="SettingsException"/> naming a bad key.
    /// </summary>
    /// <param name="runFolder">The run's output folder on the coordinator's node: the default SQLite file is <c>state.db</c> there.</param>
    public static StateStore? From(Config config, string? runFolder = null)
    {
        if (!config.GetBoolean($"{Section}.enabled", true)) return null;
        var providerText = config.GetString($"{Section}.provider", "sqlite") ?? "sqlite";
        var provider = providerText.Trim().ToLowerInvariant() switch
        {
            "sqlite" => StateStoreProvider.Sqlite,
            "postgresql" or "postgres" => StateStoreProvider.PostgreSql,
            _ => throw new SettingsException($"{Section}.provider: '{providerText}' is not a store (valid: sqlite, postgresql)"),
        };
        var connection = config.GetString($"{Section}.connection-string", "") ?? "";
        var runId = config.GetString($"{Section}.run-id", "") ?? "";
        if (runId.Length > 0 && !ValidRunId(runId))
            throw new SettingsException($"{Section}.run-id: '{runId}' (letters, digits, '-', '_' and '.' only, at most 100 characters)");
        if (string.IsNullOrWhiteSpace(connection))
        {
            if (provider == StateStoreProvider.PostgreSql)
                throw new SettingsException($"{Section}.connection-string: PostgreSQL needs one (e.g. \"Host=db;Database=akkagan;Username=akkagan;Password=...\")");
            if (runFolder is null) return null;
            connection = new SqliteConnectionStringBuilder { DataSource = Path.GetFullPath(Path.Combine(runFolder, FileName)) }.ToString();
        }
        if (provider == StateStoreProvider.Sqlite) connection = SqliteConnection(connection);
        return new StateStore(provider, connection, runId);
    }

    /// <summary>
    /// SQLite connections wait for a writer of another process or actor system instead of failing with SQLITE_BUSY:
    /// Microsoft.Data.Sqlite retries a busy statement until the command timeout (60 s here unless the string sets one).
    /// </summary>
    private static string SqliteConnection(string text)
    {
        SqliteConnectionStringBuilder builder;
        try
        {
            builder = new SqliteConnectionStringBuilder(text);
        }
        catch (ArgumentException e)
        {
            throw new SettingsException($"{Section}.connection-string: not a SQLite connection string ({e.Message})");
        }
        if (string.IsNullOrWhiteSpace(builder.DataSource)) throw new SettingsException($"{Section}.connection-string: names no file (Data Source=...)");
        if (!text.Contains("timeout", StringComparison.OrdinalIgnoreCase)) builder.DefaultTimeout = 60;
        return builder.ToString();
    }

    /// <summary>Letters, digits, <c>-_.</c>: a run id is part of every persistence id and of log lines.</summary>
    public static bool ValidRunId(string runId)
        => runId.Length is > 0 and <= 100 && runId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>A run id for a run started now: its folder's name and the UTC start time (unique per start).</summary>
    public static string NewRunId(string runFolder)
    {
        var name = new string(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(runFolder)))
            .Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray());
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss.fff", CultureInfo.InvariantCulture);
        return $"{(name.Length is 0 or > 60 ? "run" : name)}-{stamp}";
    }

    /// <summary>Where the store is, for users (the SQLite file, or PostgreSQL's host and database; never a password).</summary>
    public string Describe()
    {
        if (Provider == StateStoreProvider.Sqlite) return $"SQLite {new SqliteConnectionStringBuilder(ConnectionString).DataSource}";
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString);
        return $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}";
    }

    /// <summary>This store with the run id it trains under.</summary>
    public StateStore ForRun(string runId) => this with { RunId = runId };

    /// <summary>The persistence id of an entity of run <paramref name="runId"/>: <c>&lt;run-id&gt;/&lt;entity&gt;</c>.</summary>
    public static string PersistenceId(string runId, string entityId) => $"{runId}/{entityId}";

    /// <summary>The persistence id of the coordinator's position.</summary>
    public const string CoordinatorEntity = "coordinator";

    /// <summary>
    /// Makes the store usable before the actor system starts: for SQLite, creates the file's folder and switches the
    /// file to write-ahead logging (persistent in the file), so readers never block the writer and several processes
    /// or actor systems can share one file on one machine.
    /// </summary>
    public void Prepare()
    {
        if (Provider != StateStoreProvider.Sqlite) return;
        var builder = new SqliteConnectionStringBuilder(ConnectionString);
        var folder = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
        if (folder is not null) Directory.CreateDirectory(folder);
        using var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Akka.Persistence.Sql's snapshot store as the default snapshot store (entities and the coordinator address it with
    /// <c>SnapshotStoreFor(null)</c>). No journal: the state is a snapshot per checkpoint round, nothing is event-sourced.
    /// </summary>
    public string Hocon()
    {
        var mapping = Provider == StateStoreProvider.Sqlite ? "sqlite" : "postgresql";
        return $$"""
            akka.persistence.snapshot-store {
              plugin = "akka.persistence.snapshot-store.sql"
              sql {
                connection-string = {{Quote(ConnectionString)}}
                provider-name = "{{ProviderName}}"
                table-mapping = {{mapping}}
                auto-initialize = on
              }
            }
            """;
    }

    /// <summary><see cref="Hocon"/> over Akka.Persistence.Sql's defaults (which the plugin does not load by itself).</summary>
    public Config Config() => ConfigurationFactory.ParseString(Hocon()).WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);

    private static string Quote(string text) => System.Text.Json.JsonSerializer.Serialize(text);
}

/// <summary>Hosting: the state store's HOCON on a node that has one.</summary>
public static class StateStoreHosting
{
    /// <summary>Wires <paramref name="store"/> as the node's snapshot store (nothing when null).</summary>
    public static AkkaConfigurationBuilder AddStateStore(this AkkaConfigurationBuilder builder, StateStore? store)
    {
        if (store is null) return builder;
        store.Prepare();
        return builder.AddHocon(store.Config(), HoconAddMode.Prepend);
    }
}
