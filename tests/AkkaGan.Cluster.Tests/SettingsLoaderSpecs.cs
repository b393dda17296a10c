using AkkaGan.Cluster;
using AkkaGan.Cluster.Configuration;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// The configuration model without a process: the built-in cluster.hocon against the code's defaults, and the
/// precedence built-in &lt; dataset defaults &lt; --config &lt; checkpoint &lt; flags.
/// </summary>
public sealed class SettingsLoaderSpecs : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("akkagan-settings-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string ConfigFile(string hocon)
    {
        var path = Path.Combine(_folder, $"{Guid.NewGuid():N}.hocon");
        File.WriteAllText(path, hocon);
        return path;
    }

    private static (SettingKeys.Key, string) Flag(string path, string value) => (SettingKeys.At(path), value);

    [Fact]
    public void The_built_in_cluster_hocon_should_hold_every_key_with_the_code_default()
    {
        var builtIn = AkkaGanConfig.Default();
        var missing = SettingKeys.All.Where(k => !builtIn.HasPath("akkagan." + k.Path)).Select(k => k.Path).ToArray();
        Assert.Empty(missing);
        // Bound key by key, so a mismatch names its key.
        var defaults = new TrainingSettings();
        foreach (var key in SettingKeys.All)
        {
            var bound = SettingsLoader.Bind(Akka.Configuration.ConfigurationFactory.ParseString(
                $"akkagan.{key.Path} = {System.Text.Json.JsonSerializer.Serialize(key.Get(defaults))}").WithFallback(builtIn), defaults);
            Assert.True(SettingsJson.Serialize(bound) == SettingsJson.Serialize(SettingsLoader.Bind(builtIn, defaults)),
                $"akkagan.{key.Path}: cluster.hocon's default differs from the code's ({key.Get(defaults)})");
        }
        Assert.Equal(SettingsJson.Serialize(defaults), SettingsJson.Serialize(SettingsLoader.Bind(builtIn, new TrainingSettings())));
    }

    [Fact]
    public void Settings_should_take_each_layer_over_the_ones_below()
    {
        var fashion = Flag("train.dataset", "fashion-mnist");
        Assert.Equal(512, SettingsLoader.Resolve(null, null, []).Settings.Batch); // built in
        Assert.Equal(64, SettingsLoader.Resolve(null, null, [fashion]).Settings.Batch); // the dataset's defaults
        var file = ConfigFile("akkagan.train { batch = 100, lr-g = 0.003 }");
        var fromFile = SettingsLoader.Resolve(file, null, [fashion]).Settings;
        Assert.Equal((100, 0.003, 0.0002), (fromFile.Batch, fromFile.LrG, fromFile.LrD)); // --config over the dataset's defaults
        var checkpoint = SettingsJson.Serialize(new TrainingSettings { Dataset = DatasetKind.FashionMnist, Batch = 77, LrG = 0.001 });
        var resumed = SettingsLoader.Resolve(file, checkpoint, []).Settings;
        Assert.Equal((77, 0.001), (resumed.Batch, resumed.LrG)); // the checkpoint's settings over --config
        var flagged = SettingsLoader.Resolve(file, checkpoint, [Flag("train.batch", "55"), Flag("train.batch", "56")]).Settings;
        Assert.Equal((56, 0.001), (flagged.Batch, flagged.LrG)); // flags over all, the last one winning
    }

    [Theory]
    [InlineData("akkagan.train { batchsize = 3 }", "unknown key akkagan.train.batchsize")]
    [InlineData("akkagan.health { remedies { cooldown = soon } }", "akkagan.health.remedies.cooldown: expected an integer, got 'soon'")]
    [InlineData("akkagan.train { batch = 0 }", "batch")]
    public void A_bad_layer_should_be_refused_naming_its_key(string hocon, string expected)
    {
        var error = Assert.Throws<SettingsException>(() => SettingsLoader.Resolve(ConfigFile(hocon), null, []));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_bad_flag_should_be_refused_naming_the_flag()
        => Assert.Contains("--lr-g: expected a number, got 'fast'",
            Assert.Throws<SettingsException>(() => SettingsLoader.Resolve(null, null, [Flag("train.lr-g", "fast")])).Message);

    [Fact]
    public void Node_settings_should_take_the_built_in_defaults_and_the_flags_over_the_environment_over_the_file()
    {
        string? NoEnvironment(string _) => null;
        var defaults = NodeSettings.Bind(SettingsLoader.LoadConfig(null), new NodeFlags(), "spec", environment: NoEnvironment);
        Assert.Equal(("127.0.0.1", 9120, ""), (defaults.Control.Host, defaults.Control.Port, defaults.Control.Token));
        Assert.Null(defaults.Probes);
        Assert.Equal(TimeSpan.FromSeconds(10), defaults.StepTimeout);
        Assert.False(defaults.PlayAhead);
        Assert.Null(defaults.Store); // no run folder and no connection string: this node keeps no state
        Assert.Null(defaults.Tls);

        var config = SettingsLoader.LoadConfig(ConfigFile("akkagan.control { token = from-file, port = 9200 }\nakkagan.probes.enabled = on\nakkagan.cluster.step-timeout = 5s\nakkagan.cluster.play-ahead = on"));
        var fromFile = NodeSettings.Bind(config, new NodeFlags(), "spec", environment: NoEnvironment);
        Assert.Equal(("from-file", 9200, 8558, TimeSpan.FromSeconds(5), true),
            (fromFile.Control.Token, fromFile.Control.Port, fromFile.Probes!.Port, fromFile.StepTimeout, fromFile.PlayAhead));
        var fromEnvironment = NodeSettings.Bind(config, new NodeFlags(), "spec", environment: name => name == NodeSettings.TokenVariable ? "from-env" : null);
        Assert.Equal("from-env", fromEnvironment.Control.Token);
        var fromFlags = NodeSettings.Bind(config, new NodeFlags(ControlToken: "from-flag", ControlPort: 0, HealthPort: 9999), "spec", environment: _ => "from-env");
        Assert.Equal(("from-flag", 0, 9999), (fromFlags.Control.Token, fromFlags.Control.Port, fromFlags.Probes!.Port));
        Assert.NotNull(NodeSettings.Bind(config, new NodeFlags(), "spec", _folder).Store); // the run folder's state.db
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes: the warning is about Unix permissions
    public void Control_tokens_should_come_from_files_or_the_environment_and_a_token_flag_should_warn()
    {
        var operatorFile = Path.Combine(_folder, "operator.token");
        var readerFile = Path.Combine(_folder, "reader.token");
        File.WriteAllText(operatorFile, "op-secret\n");
        File.WriteAllText(readerFile, "read-secret\n");
        File.SetUnixFileMode(operatorFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.SetUnixFileMode(readerFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var config = SettingsLoader.LoadConfig(ConfigFile($$"""
            akkagan.control { token-file = "{{operatorFile}}", read-only-token-file = "{{readerFile}}", idle-timeout = 2m, slow-client-timeout = 5s, max-connections = 3 }
            """));
        var fromFiles = NodeSettings.Bind(config, new NodeFlags(), "spec", environment: _ => null);
        Assert.Equal(("op-secret", "read-secret"), (fromFiles.Control.Token, fromFiles.Control.ReadOnlyToken));
        Assert.Equal((TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(5), 3),
            (fromFiles.Control.IdleTimeout, fromFiles.Control.SlowClientTimeout, fromFiles.Control.MaxConnections));
        // Only the file others can read is warned about.
        Assert.Equal([$"akkagan.control.read-only-token-file: {readerFile} can be read by other users; chmod 600 it (or defaultMode 0400 for a Kubernetes secret volume)"],
            fromFiles.Warnings);

        var fromEnvironment = NodeSettings.Bind(config, new NodeFlags(), "spec", environment: name => name switch
        {
            NodeSettings.TokenVariable => "op-env",
            NodeSettings.ReadOnlyTokenVariable => "read-env",
            _ => null,
        });
        Assert.Equal(("op-env", "read-env"), (fromEnvironment.Control.Token, fromEnvironment.Control.ReadOnlyToken));

        var fromFlagFile = NodeSettings.Bind(config, new NodeFlags(ControlTokenFile: readerFile, ControlReadOnlyTokenFile: operatorFile), "spec", environment: _ => "env");
        Assert.Equal(("read-secret", "op-secret"), (fromFlagFile.Control.Token, fromFlagFile.Control.ReadOnlyToken));

        var fromFlag = NodeSettings.Bind(config, new NodeFlags(ControlToken: "op-flag"), "spec", environment: _ => null);
        Assert.Equal("op-flag", fromFlag.Control.Token);
        Assert.Contains(fromFlag.Warnings, w => w.StartsWith("--control-token shows the token to every local user (ps, /proc)", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("akkagan.control { token = a, token-file = /x }", "akkagan.control.token and akkagan.control.token-file are both set")]
    [InlineData("akkagan.control.token-file = /nonexistent/akkagan.token", "akkagan.control.token-file: cannot read the token file /nonexistent/akkagan.token")]
    [InlineData("akkagan.control.read-only-token = r", "a read-only token needs an operator token too")]
    [InlineData("akkagan.control { token = same, read-only-token = same }", "the read-only token is the operator token")]
    [InlineData("akkagan.control.idle-timeout = 0s", "akkagan.control.idle-timeout must be positive")]
    [InlineData("akkagan.control.slow-client-timeout = soon", "akkagan.control.slow-client-timeout")]
    [InlineData("akkagan.control.max-connections = 0", "at least one connection must be allowed")]
    [InlineData("akkagan.cluster.play-ahead = sometimes", "akkagan.cluster.play-ahead")]
    public void Bad_control_settings_should_be_refused_at_start_naming_the_key(string hocon, string expected)
    {
        var config = SettingsLoader.LoadConfig(ConfigFile(hocon));
        Assert.Contains(expected, Assert.Throws<SettingsException>(() => NodeSettings.Bind(config, new NodeFlags(), "spec", environment: _ => null)).Message);
    }

    [Fact]
    public void An_empty_token_file_or_a_token_given_twice_by_flags_should_be_refused()
    {
        var empty = Path.Combine(_folder, "empty.token");
        File.WriteAllText(empty, "\n");
        var config = SettingsLoader.LoadConfig(null);
        Assert.Contains($"--control-token-file: the token file {empty} is empty",
            Assert.Throws<SettingsException>(() => NodeSettings.Bind(config, new NodeFlags(ControlTokenFile: empty), "spec", environment: _ => null)).Message);
        Assert.Contains("--control-token and --control-token-file: give the token one way",
            Assert.Throws<SettingsException>(() => NodeSettings.Bind(config, new NodeFlags(ControlToken: "t", ControlTokenFile: empty), "spec", environment: _ => null)).Message);
    }

    [Theory]
    [InlineData("akkagan.control.port = 70000", "port must be 0..65535")]
    [InlineData("akkagan.control.host = 0.0.0.0", "needs a token")]
    [InlineData("akkagan.probes { enabled = on, port = 0 }", "akkagan.probes.port: 0 is not a TCP port")]
    [InlineData("akkagan.cluster.step-timeout = 0s", "akkagan.cluster.step-timeout must be positive")]
    [InlineData("akkagan.persistence.provider = mysql", "akkagan.persistence.provider: 'mysql' is not a store")]
    [InlineData("akkagan.tls { enabled = on, certificate = /nonexistent.pfx }", "akkagan.tls.certificate: /nonexistent.pfx not found")]
    public void Bad_node_settings_should_be_refused_at_start_naming_the_key(string hocon, string expected)
    {
        var config = SettingsLoader.LoadConfig(ConfigFile(hocon));
        Assert.Contains(expected, Assert.Throws<SettingsException>(() => NodeSettings.Bind(config, new NodeFlags(), "spec", environment: _ => null)).Message);
    }
}
