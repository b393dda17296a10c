using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace AkkaGan.Testing;

/// <summary>
/// Hands out TCP ports on 127.0.0.1 that no other caller of this class, in this process or another, gets while the
/// process lives, and that no port-0 bind can take in the meantime (a node told to bind the port later still finds it
/// free).
/// </summary>
/// <remarks>
/// A port found by binding port 0 and releasing it is an ephemeral port: the next process that binds port 0 (a test's
/// node started with <c>--port 0</c>, any client socket) may be given the same one before the intended node binds it.
/// So ports come from below the kernel's ephemeral range, which port-0 binds never use. Each is reserved with an
/// exclusive lock on a file in the temp folder, held until this process exits (the kernel drops the lock even on a
/// crash), so parallel test processes never share one; and it is checked free by binding it once.
/// </remarks>
public static class FreePorts
{
    private const int Lowest = 20000;
    private static readonly Lock Gate = new();
    private static readonly List<FileStream> Held = [];
    private static readonly string Folder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "akkagan-test-ports")).FullName;

    /// <summary>A port that is free now and reserved for the caller for the rest of this process's life.</summary>
    public static int Next()
    {
        var end = EphemeralStart();
        var span = end - Lowest;
        lock (Gate)
        {
            // Start at a random place so that processes rarely contend for the same lock files.
            var offset = Random.Shared.Next(span);
            for (var i = 0; i < span; i++)
            {
                var port = Lowest + (offset + i) % span;
                if (!TryReserve(port)) continue;
                if (IsFree(port)) return port;
            }
        }
        throw new InvalidOperationException($"no free TCP port between {Lowest} and {end} on 127.0.0.1");
    }

    private static bool TryReserve(int port)
    {
        try
        {
            // FileShare.None takes an exclusive advisory lock (flock) on Unix: another process's open fails.
            var file = new FileStream(Path.Combine(Folder, port.ToString(CultureInfo.InvariantCulture)), FileMode.OpenOrCreate,
                FileAccess.ReadWrite, FileShare.None);
            Held.Add(file);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The first port of the kernel's ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range), else 32768.</summary>
    private static int EphemeralStart()
    {
        const string range = "/proc/sys/net/ipv4/ip_local_port_range";
        if (File.Exists(range)
            && int.TryParse(File.ReadAllText(range).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture, out var start)
            && start > Lowest + 1000)
            return start;
        return 32768;
    }
}
