using System.Globalization;
using System.Runtime.InteropServices;
using AkkaGan.Core.Diagnostics;

namespace AkkaGan.Core.Tests;

public sealed class MemoryTraceSpecs
{
    [Fact]
    public void A_sample_should_have_a_value_for_every_column()
    {
        var fields = MemoryTrace.Sample().Split('\t');
        Assert.Equal(MemoryTrace.Columns.Length, fields.Length);
        var rss = double.Parse(fields[Array.IndexOf(MemoryTrace.Columns, "rss_mb")], CultureInfo.InvariantCulture);
        Assert.True(rss > 0, $"resident set {rss} MB");
    }

    [Fact]
    public void Mallocs_bytes_in_use_should_be_read_on_glibc_and_be_nan_elsewhere()
    {
        using var loaded = TorchSharp.torch.zeros(1024);   // libtorch is loaded and has allocated
        var (used, free) = MemoryTrace.Malloc;
        var glibc = OperatingSystem.IsLinux() && !RuntimeInformation.RuntimeIdentifier.Contains("musl", StringComparison.Ordinal);
        if (!glibc)
        {
            Assert.True(double.IsNaN(used), $"malloc in use off glibc: {used}");
            return;
        }
        // A process that has loaded libtorch has handed out megabytes from malloc.
        Assert.True(used > 1 << 20, $"malloc in use: {used} bytes");
        Assert.True(free >= 0, $"malloc free: {free} bytes");
    }
}
