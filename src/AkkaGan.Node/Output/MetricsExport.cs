using System.Net;
using AkkaGan.Cluster.Configuration;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace AkkaGan.Node.Output;

/// <summary>
/// Exports a node's metrics with the OpenTelemetry SDK (<c>akkagan.metrics</c>, <c>--metrics-port</c>): the training's
/// (<see cref="RunMetrics"/>, on the node that trains), the wire's (<c>AkkaGan.Wire</c>: bytes and messages serialized
/// and read, on every node) and the .NET runtime's (<c>System.Runtime</c>: GC, heap, threads), as a Prometheus scrape
/// endpoint (<c>http://HOST:PORT/metrics</c>) and/or pushed to an OTLP collector. Null when neither is configured.
/// </summary>
internal static class MetricsExport
{
    /// <summary>Starts the exporters <paramref name="settings"/> asks for; a scrape port another process holds is a <see cref="Runtime.NodeStartException"/>.</summary>
    public static MeterProvider? Start(MetricsSettings? settings, string serviceName)
    {
        if (settings is null) return null;
        var builder = Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(r => r.AddService(serviceName))
            .AddMeter(RunMetrics.MeterName, AkkaGan.Cluster.Serialization.WireMetrics.MeterName, "System.Runtime");
        if (settings.PrometheusPort > 0)
        {
            // HttpListener takes "+" for every address; an IP literal binds that address only.
            var host = settings.PrometheusHost is "0.0.0.0" or "::" or "*" ? "+" : settings.PrometheusHost;
            builder.AddPrometheusHttpListener(o =>
            {
                o.Host = host;
                o.Port = settings.PrometheusPort;
            });
        }
        if (settings.OtlpEndpoint.Length > 0)
            builder.AddOtlpExporter((exporter, reader) =>
            {
                exporter.Endpoint = new Uri(settings.OtlpEndpoint);
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)settings.ExportInterval.TotalMilliseconds;
            });
        try
        {
            var provider = builder.Build();
            if (settings.PrometheusPort > 0)
                Console.WriteLine($"metrics: Prometheus scrape endpoint http://{settings.PrometheusHost}:{settings.PrometheusPort}/metrics");
            if (settings.OtlpEndpoint.Length > 0)
                Console.WriteLine($"metrics: pushed to the OTLP endpoint {settings.OtlpEndpoint} every {settings.ExportInterval.TotalSeconds:0.#} s");
            return provider;
        }
        catch (HttpListenerException e)
        {
            throw new Runtime.NodeStartException($"the metrics port {settings.PrometheusHost}:{settings.PrometheusPort} cannot be bound ({e.Message}); " +
                                                 "stop what holds it, or give this node another --metrics-port", e);
        }
    }
}
