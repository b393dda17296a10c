using System.CommandLine;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Data;
using AkkaGan.Core.Settings;
using AkkaGan.Node.Cli;

// The `akkagan` executable. Exit codes: 0 success, 1 runtime failure, 2 invalid input (settings, flags, dataset,
// checkpoint), 130 interrupted (a final checkpoint and summary are written first).
AkkaGan.Node.Runtime.NativeAllocator.Tune();
if (OperatingSystem.IsLinux() && !AkkaGan.Node.Runtime.NativeAllocator.Applied)
    Console.Error.WriteLine("akkagan: warning: the C library refused the malloc settings (not glibc?): tensors may be mapped and unmapped at every step, " +
                            "which slows image training on actor threads");
AkkaGan.Node.Runtime.MemoryRelief.Start();
_ = AkkaGan.Core.Diagnostics.MemoryTrace.Enabled; // starts its sampler now when AKKAGAN_MEMORY_TRACE asks for one
var root = new RootCommand("AkkaGan: distributed, actor-based GAN training on Akka.NET and TorchSharp.");
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(NodeCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(SampleCommand.Create());
root.Subcommands.Add(SampleCommand.CreateExport());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(ClassifierCommand.Create());
root.Subcommands.Add(DatasetCommand.Create());
VersionInfo.AttachTo(root);

try
{
    var parse = root.Parse(args);
    if (parse.Errors.Count > 0)
    {
        // Unknown flags, missing or repeated values: name each problem, point at --help, exit 2 like every bad input.
        foreach (var error in parse.Errors) Console.Error.WriteLine($"akkagan: error: {error.Message}");
        var path = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
            path.Insert(0, result.Command is RootCommand ? "akkagan" : result.Command.Name);
        Console.Error.WriteLine($"run '{string.Join(' ', path)} --help' for the valid flags");
        return 2;
    }
    return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is SettingsException or DatasetException or CheckpointException)
{
    Console.Error.WriteLine($"akkagan: error: {e.Message}");
    return 2;
}
catch (AkkaGan.Node.Runtime.NodeStartException e)
{
    Console.Error.WriteLine($"akkagan: error: {e.Message}");
    return 1;
}
catch (DllNotFoundException e)
{
    Console.Error.WriteLine($"akkagan: error: the native torch library could not be loaded ({e.Message}). " +
                            "TorchSharp 0.107 needs libstdc++ with GLIBCXX_3.4.32 (GCC 13+); run ./build.sh prereqs for the fix.");
    return 1;
}
