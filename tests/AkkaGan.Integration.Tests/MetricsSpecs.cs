using System.Globalization;
using System.Text.RegularExpressions;

namespace AkkaGan.Integration.Tests;

/// <summary>The OpenTelemetry metrics of a running training, scraped from its Prometheus endpoint as Prometheus would.</summary>
public sealed class MetricsSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-metrics-it-").FullName;

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_scrape_during_a_run_should_find_the_round_counter_advancing_and_every_series_the_dashboard_shows()
    {
        var port = Akkagan.FreePort();
        var output = new System.Text.StringBuilder();
        using var train = Akkagan.StartCapturing(["train", "--engine", "cluster", "--rounds", Akkagan.Endless, "--batch", "64", "--unroll", "0",
            "--eval-every", "100", "--eval-samples", "300", "--control-port", "0", "--metrics-port", port.ToString(CultureInfo.InvariantCulture),
            "--out", Path.Combine(_dir, "run")], output);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            // Scrapes until the counter is there, then until it has moved on: the events this spec checks, however fast the machine.
            var deadline = DateTime.UtcNow.AddMinutes(2);
            async Task<(string Text, double Rounds)> ScrapeAsync(Func<string, double, bool> until)
            {
                while (true)
                {
                    Assert.False(train.HasExited, "the training exited:\n" + output);
                    Assert.True(DateTime.UtcNow < deadline, "no scrape showed what was expected:\n" + output);
                    try
                    {
                        var text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics", TestContext.Current.CancellationToken);
                        var rounds = Regex.Match(text, @"^akkagan_rounds_total\{[^}]*\} (\S+)$", RegexOptions.Multiline);
                        if (rounds.Success && double.Parse(rounds.Groups[1].Value, CultureInfo.InvariantCulture) is var value && until(text, value))
                            return (text, value);
                    }
                    catch (HttpRequestException)
                    {
                        // The endpoint is not up yet.
                    }
                    await Task.Delay(200, TestContext.Current.CancellationToken);
                }
            }
            var (_, before) = await ScrapeAsync((_, value) => value > 0);
            var (_, after) = await ScrapeAsync((_, value) => value > before);
            Assert.True(after > before);

            // Once an evaluation is in a scrape, every series of the training the Grafana dashboard queries must be served.
            var (withEvaluation, _) = await ScrapeAsync((text, _) => text.Contains("akkagan_evaluation{", StringComparison.Ordinal));
            var dashboard = File.ReadAllText(Path.Combine(Akkagan.RepositoryRoot, "deploy", "grafana", "akkagan-dashboard.json"));
            // Counters of events appear from their first event (a fault, an evolution, an operator's change, a checkpoint),
            // and the wire's only on nodes that talk to other processes: the rest must be there in any run.
            string[] eventual = ["akkagan_wire_", "akkagan_faults_", "akkagan_evolutions_", "akkagan_changes_", "akkagan_checkpoints_"];
            var queried = Regex.Matches(dashboard, @"akkagan_[a-z_]+").Select(m => m.Value)
                .Where(name => !eventual.Any(e => name.StartsWith(e, StringComparison.Ordinal)))
                .Select(name => Regex.Replace(name, "_(bucket|sum|count)$", "")).Distinct().ToArray();
            Assert.NotEmpty(queried);
            Assert.All(queried, name => Assert.Contains(name, withEvaluation));
            Assert.Contains("akkagan_loss_discriminator{otel_scope_name=\"AkkaGan\",member=\"d-0\"}", withEvaluation);
            Assert.Contains("metrics: Prometheus scrape endpoint http://127.0.0.1:" + port, output.ToString());
        }
        finally
        {
            if (!train.HasExited) train.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public void A_bad_metrics_port_should_be_refused_at_start_naming_it()
    {
        var result = Akkagan.Run("train", "--metrics-port", "70000", "--out", Path.Combine(_dir, "bad"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--metrics-port: 70000 is not a TCP port", result.Stderr);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
