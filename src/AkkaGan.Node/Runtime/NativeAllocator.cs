using System.Runtime.InteropServices;

namespace AkkaGan.Node.Runtime;

/// <summary>
/// Tunes glibc's malloc, which allocates every libtorch CPU tensor. Its defaults return freed memory to the kernel
/// eagerly (heap trimming, and a dynamic mmap threshold): harmless on the main thread, but the cluster engine computes
/// on actor threads, whose per-thread arenas were trimmed and re-faulted every step. Profiled with perf on the
/// one-node cluster engine (ring8 defaults): page faults and page clearing in the compute threads, and 19.3 rounds/s
/// against 23.2 with the settings below (the reference engine's speed). The cost is that the process keeps its peak
/// heap instead of shrinking after it, which a training process reaches in its first rounds anyway.
/// </summary>
internal static partial class NativeAllocator
{
    private const int MTrimThreshold = -1;
    private const int MTopPad = -2;
    private const int MMmapThreshold = -3;
    private const int MArenaMax = -8;

    /// <summary>glibc's environment variable for the arena count; a value there is the user's choice and wins.</summary>
    public const string ArenaMaxVariable = "MALLOC_ARENA_MAX";

    /// <summary>
    /// The arenas glibc may create: 2 up to 2 cores, then one per core up to 4. Its default (8 per core) gives every
    /// thread that allocates a tensor an arena of its own, and with the trim threshold below none of them ever shrinks.
    /// </summary>
    public static int ArenaMax => Math.Clamp(Environment.ProcessorCount, 2, 4);

    /// <summary>The largest mmap threshold glibc accepts on 64-bit systems (half its 64 MiB heap size).</summary>
    public const int MaxMmapThreshold = 32 << 20;

    /// <summary>Whether glibc took every setting (false off glibc, or when one was refused).</summary>
    public static bool Applied { get; private set; }

    /// <summary>Call first thing in Main, before any thread allocates. Does nothing off Linux/glibc.</summary>
    public static void Tune()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            // Allocations up to 32 MiB come from the arenas (glibc's ceiling for the threshold on 64-bit systems; the
            // 512 MiB asked for until session 10 was refused, so the threshold stayed wherever the runtime's start-up
            // had moved it), the top of a heap is trimmed only beyond 512 MiB free, and each heap extension takes
            // 64 MiB at once.
            // Few arenas: the cluster engine's actors run on several threads, and each arena keeps what its threads freed
            // (akkagan bench soak measures it: docs/engines.md, "Memory over long runs").
            Applied = MallOpt(MMmapThreshold, MaxMmapThreshold) == 1
                      & MallOpt(MTrimThreshold, 512 << 20) == 1
                      & MallOpt(MTopPad, 64 << 20) == 1
                      & (Environment.GetEnvironmentVariable(ArenaMaxVariable) is { Length: > 0 } || MallOpt(MArenaMax, ArenaMax) == 1);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (e.g. musl in an Alpine image): keep the allocator's defaults.
        }
    }

    /// <summary>Returns every arena's free pages to the kernel (glibc's <c>malloc_trim(0)</c>); false off glibc.</summary>
    public static bool Trim()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            _ = MallocTrim(0);   // 1 when it released memory, 0 when there was none to release
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);
}
