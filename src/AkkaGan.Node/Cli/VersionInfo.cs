using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using System.Runtime.InteropServices;

namespace AkkaGan.Node.Cli;

/// <summary>
/// <c>akkagan --version</c>: the versions that matter in a bug report, one per line: AkkaGan (with its commit), .NET
/// and the OS, Akka.NET, TorchSharp and the libtorch it loaded, the torch backend this build carries and whether CUDA
/// is usable. libtorch is loaded to ask it; when it cannot be, the line says why instead of failing.
/// </summary>
internal sealed class VersionInfo : SynchronousCommandLineAction
{
    /// <summary>Makes <paramref name="root"/>'s <c>--version</c> print these lines.</summary>
    public static void AttachTo(RootCommand root)
    {
        foreach (var option in root.Options.OfType<VersionOption>()) option.Action = new VersionInfo();
    }

    public override int Invoke(ParseResult parseResult)
    {
        foreach (var line in Lines()) parseResult.InvocationConfiguration.Output.WriteLine(line);
        return 0;
    }

    public static IEnumerable<string> Lines()
    {
        var node = typeof(VersionInfo).Assembly;
        yield return $"akkagan {Informational(node)}";
        yield return $".NET {Environment.Version} on {RuntimeInformation.OSDescription} ({RuntimeInformation.ProcessArchitecture})";
        yield return $"Akka.NET {Informational(typeof(Akka.Actor.ActorSystem).Assembly)}";
        var backend = node.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "TorchBackend")?.Value ?? "unknown";
        string torch;
        try
        {
            torch = $"libtorch {TorchSharp.torch.__version__}, backend {backend} (this build), CUDA {(TorchSharp.torch.cuda.is_available() ? "available" : "not available")}";
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            torch = $"libtorch could not be loaded ({e.GetBaseException().Message}); backend {backend} (this build); ./build.sh prereqs installs what it needs";
        }
        yield return $"TorchSharp {Informational(typeof(TorchSharp.torch).Assembly)}; {torch}";
    }

    private static string Informational(Assembly assembly)
        => assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? assembly.GetName().Version?.ToString() ?? "unknown";
}
