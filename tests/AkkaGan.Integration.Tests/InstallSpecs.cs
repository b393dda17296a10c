using System.Diagnostics;

namespace AkkaGan.Integration.Tests;

/// <summary><c>./build.sh install PREFIX</c> and <c>uninstall</c>: the two commands as native executables on a PATH.</summary>
public sealed class InstallSpecs : IDisposable
{
    private readonly string _prefix = Directory.CreateTempSubdirectory("akkagan-prefix-").FullName;

    private static (int ExitCode, string Output) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["AKKAGAN_SKIP_PREREQS"] = "1";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Install_should_put_both_commands_on_the_prefixs_bin_with_libtorch_beside_akkagan_only_and_uninstall_should_remove_them()
    {
        var build = Path.Combine(Akkagan.RepositoryRoot, "build.sh");
        var install = Run("bash", build, "install", _prefix);
        Assert.True(install.ExitCode == 0, install.Output);
        var bin = Path.Combine(_prefix, "bin");

        // Native executables (the .NET apphost), run as a user would: no `dotnet` in front.
        var version = Run(Path.Combine(bin, "akkagan"), "--version");
        Assert.True(version.ExitCode == 0, version.Output);
        Assert.Contains("libtorch", version.Output);
        var ctl = Run(Path.Combine(bin, "akkagan-ctl"), "--version");
        Assert.True(ctl.ExitCode == 0, ctl.Output);
        Assert.StartsWith("akkagan-ctl ", ctl.Output);

        static bool HasTorch(string folder) => Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Any(f => Path.GetFileName(f).Contains("torch", StringComparison.OrdinalIgnoreCase));
        var lib = Path.Combine(_prefix, "lib", "akkagan");
        Assert.True(HasTorch(Path.Combine(lib, "akkagan")), "no libtorch beside akkagan");
        Assert.False(HasTorch(Path.Combine(lib, "akkagan-ctl")), "akkagan-ctl carries torch");

        var uninstall = Run("bash", build, "uninstall", _prefix);
        Assert.True(uninstall.ExitCode == 0, uninstall.Output);
        Assert.False(File.Exists(Path.Combine(bin, "akkagan")) || File.Exists(Path.Combine(bin, "akkagan-ctl")), "uninstall left a command");
        Assert.False(Directory.Exists(lib), "uninstall left the published folders");
        var again = Run("bash", build, "uninstall", _prefix);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains($"nothing installed under {_prefix}", again.Output);
    }

    public void Dispose() => Directory.Delete(_prefix, recursive: true);
}
