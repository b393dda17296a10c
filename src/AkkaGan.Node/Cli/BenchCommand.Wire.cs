using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Event;
using AkkaGan.Cluster;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Cluster.Wire;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using Spectre.Console;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;

namespace AkkaGan.Node.Cli;

/// <summary>
/// <c>akkagan bench wire</c>: how fast a large tensor moves between two cluster nodes in two processes on loopback,
/// over the bulk channel and over Akka.Remote as chunks, side by side in one run. Each message is a generator's
/// samples message of <c>--size</c> bytes of float32 (as a round moves an image batch); the next goes once the
/// receiving node has it whole and acknowledged it, as in a round. The report gives MB/s per way and the cluster
/// warnings both processes logged meanwhile (a heartbeat held up behind a transfer shows there).
/// </summary>
public static partial class BenchCommand
{
    private const string WireSinkRole = "wire-sink";

    private static Command CreateWire()
    {
        var wire = new Command("wire",
            "MB/s of large tensors between this process and a second one on loopback, one at a time as a round moves them, over the bulk channel " +
            "and over Akka.Remote as chunks, alternating; prints medians, the ratio, and any heartbeat or reachability warning of either process.");
        var size = new Option<int>("--size") { Description = "Bytes per tensor (float32; a multiple of 4)", HelpName = "BYTES", DefaultValueFactory = _ => 4 << 20 };
        var count = new Option<int>("--count") { Description = "Tensors per measurement", HelpName = "N", DefaultValueFactory = _ => 100 };
        var repetitions = new Option<int>("--repetitions") { Description = "Measurements per way", HelpName = "N", DefaultValueFactory = _ => 3 };
        var json = new Option<string?>("--json") { Description = "Also write the medians and ratio to this JSON file", HelpName = "FILE" };
        var serve = new Option<string?>("--serve") { Description = "(internal) run the receiving node, joining this seed", Hidden = true };
        wire.Options.Add(size);
        wire.Options.Add(count);
        wire.Options.Add(repetitions);
        wire.Options.Add(json);
        wire.Options.Add(serve);
        wire.SetAction(parse => parse.GetValue(serve) is { } seed
            ? ServeWire(seed)
            : RunWire(parse.GetValue(size), parse.GetValue(count), parse.GetValue(repetitions), parse.GetValue(json)));
        return wire;
    }

    private static Config WireConfig(int port, string roles) => ConfigurationFactory.ParseString($"""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        akka.remote.dot-netty.tcp.port = {port}
        akka.cluster.roles = [{roles}]
        """).WithFallback(AkkaGanConfig.Default());

    /// <summary>Warnings and errors of the actor system that concern the cluster's health (heartbeats, reachability).</summary>
    private sealed class HealthWarnings : ReceiveActor
    {
        public static readonly List<string> Seen = [];

        public HealthWarnings()
        {
            Receive<LogEvent>(e =>
            {
                var text = e.Message?.ToString() ?? "";
                if (text.Contains("heartbeat", StringComparison.OrdinalIgnoreCase) || text.Contains("unreachable", StringComparison.OrdinalIgnoreCase))
                    lock (Seen) Seen.Add(text.Length > 200 ? text[..200] + "..." : text);
            });
        }
    }

    private static void WatchHealth(ActorSystem system)
    {
        var watcher = system.ActorOf(Props.Create<HealthWarnings>());
        system.EventStream.Subscribe(watcher, typeof(Warning));
        system.EventStream.Subscribe(watcher, typeof(Error));
    }

    /// <summary>The receiving node: acknowledges every whole message with its request id; prints health warnings for the parent.</summary>
    private sealed class WireSink : ReceiveActor
    {
        public WireSink()
        {
            var inbox = new WireInbox(Context.System, Context.GetLogger());
            Receive<IWirePart>(p => inbox.Receive(p, Self, Sender, m => Acknowledge(m, Sender)));
            Receive<G.SamplesProduced>(m => Acknowledge(m, Sender));
        }

        private static void Acknowledge(object message, IActorRef sender)
        {
            if (message is not G.SamplesProduced samples) return;
            sender.Tell(samples.RequestId);
            // As a discriminator does once it has the tensor: the array goes back for the next message of its size.
            PayloadPool.Release(samples.Samples);
        }
    }

    private static int ServeWire(string seed)
    {
        using var system = ActorSystem.Create("akkagan-wire", WireConfig(0, WireSinkRole));
        WatchHealth(system);
        system.ActorOf(Props.Create<WireSink>(), "sink");
        Akka.Cluster.Cluster.Get(system).Join(Address.Parse($"akka.tcp://akkagan-wire@{seed}"));
        // Until the parent stops it: report health warnings on stdout for the parent to count.
        var reported = 0;
        while (!system.WhenTerminated.IsCompleted)
        {
            lock (HealthWarnings.Seen)
                for (; reported < HealthWarnings.Seen.Count; reported++) Console.WriteLine($"health-warning: {HealthWarnings.Seen[reported]}");
            system.WhenTerminated.Wait(TimeSpan.FromMilliseconds(200));
        }
        return 0;
    }

    private static int RunWire(int size, int count, int repetitions, string? jsonFile)
    {
        if (size < 4 || size % 4 != 0) throw new SettingsException($"--size: {size} (a positive multiple of 4 bytes)");
        if (count < 1) throw new SettingsException($"--count: {count} (at least 1)");
        if (repetitions < 1) throw new SettingsException($"--repetitions: {repetitions} (at least 1)");
        var port = FreePort();
        using var system = ActorSystem.Create("akkagan-wire", WireConfig(port, ""));
        WatchHealth(system);
        var cluster = Akka.Cluster.Cluster.Get(system);
        cluster.Join(cluster.SelfAddress);
        var work = Directory.CreateTempSubdirectory("akkagan-bench-wire-").FullName;
        var childLog = Path.Combine(work, "receiver.log");
        using var onInt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, _ => KillChildren());
        var child = Start(["bench", "wire", "--serve", $"127.0.0.1:{port}"], childLog);
        var stopped = false;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            Member? sink;
            while ((sink = cluster.State.Members.FirstOrDefault(m => m.HasRole(WireSinkRole) && m.Status == MemberStatus.Up)) is null)
            {
                if (DateTime.UtcNow > deadline || child.Process.HasExited)
                    throw new InvalidOperationException($"the receiving process did not join within 60 s (log {childLog})");
                Thread.Sleep(100);
            }
            var target = system.ActorSelection(new RootActorPath(sink.Address) / "user" / "sink").ResolveOne(TimeSpan.FromSeconds(10)).Result;
            var payload = TensorCodec.ToPayload(TorchSharp.torch.randn(size / 4, generator: TorchSharp.torch.manual_seed(1)));
            var inbox = Inbox.Create(system);
            var ways = new Dictionary<string, LargeMessages> { ["bulk"] = new(system, bulk: true), ["chunks"] = new(system, bulk: false) };
            var rates = ways.Keys.ToDictionary(w => w, _ => new List<double>());
            long request = 0;
            double Measure(LargeMessages wire, int n)
            {
                var clock = Stopwatch.StartNew();
                for (var i = 0; i < n; i++)
                {
                    var id = ++request;
                    wire.Tell(target, new G.SamplesProduced(GeneratorId.Default, id, payload), inbox.Receiver);
                    if (inbox.Receive(TimeSpan.FromSeconds(60)) is not long acknowledged || acknowledged != id)
                        throw new InvalidOperationException($"message {id} was not acknowledged in order");
                }
                return (double)size * n / clock.Elapsed.TotalSeconds / 1e6;
            }
            Console.WriteLine($"akkagan bench wire: {count} tensors of {size} bytes per measurement, one at a time, {repetitions} repetitions, ways alternating");
            foreach (var wire in ways.Values) Measure(wire, Math.Min(count, 10)); // warm-up: JIT, connections
            for (var rep = 1; rep <= repetitions; rep++)
                foreach (var (way, wire) in ways)
                {
                    var rate = Measure(wire, count);
                    rates[way].Add(rate);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  repetition {rep}/{repetitions} {way,-7} {rate,9:F1} MB/s"));
                }

            // The receiving node leaves (its process then ends by itself), so neither side logs a lost peer.
            cluster.Leave(sink.Address);
            if (!child.Process.WaitForExit(15_000)) Console.Error.WriteLine("akkagan: warning: the receiving process did not leave within 15 s; stopping it");
            child.Dispose(); // its log is complete once it has exited
            stopped = true;
            string[] seen;
            lock (HealthWarnings.Seen) seen = [.. HealthWarnings.Seen];
            var warnings = seen.Concat(ReadShared(childLog).Where(l => l.StartsWith("health-warning: ", StringComparison.Ordinal))).ToArray();
            var bulk = Median([.. rates["bulk"]]);
            var chunks = Median([.. rates["chunks"]]);
            var table = new Table().Title("[bold]MB/s between two processes on loopback, medians[/]").AddColumn("way")
                .AddColumn("MB/s", c => c.RightAligned()).AddColumn("min", c => c.RightAligned()).AddColumn("max", c => c.RightAligned())
                .AddColumn("target", c => c.RightAligned());
            table.AddRow("bulk", F(bulk), F(rates["bulk"].Min()), F(rates["bulk"].Max()), bulk >= 1000 ? "[green]1000 met[/]" : "[red]1000 missed[/]");
            table.AddRow("chunks", F(chunks), F(rates["chunks"].Min()), F(rates["chunks"].Max()), "");
            AnsiConsole.Write(table);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bulk / chunks: {bulk / chunks:F2}x; heartbeat or reachability warnings: {warnings.Length}"));
            foreach (var warning in warnings.Take(5)) Console.WriteLine($"  warning: {warning}");
            if (jsonFile is not null)
            {
                var report = new JsonObject
                {
                    ["schema"] = "akkagan.bench.wire/1",
                    ["size_bytes"] = size,
                    ["count"] = count,
                    ["repetitions"] = repetitions,
                    ["bulk_mb_per_second"] = Math.Round(bulk, 1),
                    ["chunks_mb_per_second"] = Math.Round(chunks, 1),
                    ["ratio"] = Math.Round(bulk / chunks, 3),
                    ["samples"] = Samples(rates.Select(r => (r.Key, r.Value.AsEnumerable())), 1),
                    ["health_warnings"] = warnings.Length,
                };
                WriteReport(jsonFile, report);
            }
            return 0;
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"akkagan: error: bench wire: {e.Message}");
            return 1;
        }
        finally
        {
            if (!stopped) child.Dispose();
            cluster.LeaveAsync().Wait(TimeSpan.FromSeconds(5));
            Directory.Delete(work, recursive: true);
        }
    }
}
