using static TorchSharp.torch;

namespace AkkaGan.Core.Training;

/// <summary>Which actor role draws a random number (part of every derived seed).</summary>
public enum SeedRole : ulong { Generator = 1, Discriminator = 2, Coordinator = 3 }

/// <summary>What a random draw is for (part of every derived seed).</summary>
public enum SeedPurpose : ulong
{
    Init = 1, FakeForCritic = 2, GeneratorStep = 3, RealBatch = 4, UnrollReal = 5, InstanceNoise = 6,
    Penalty = 7, Subset = 8, Evaluation = 9, Fitness = 10, Evolution = 11, FeedbackNoise = 12,
}

/// <summary>
/// Counter-based seeding (DESIGN.md section 2): every random draw gets its own generator seeded from
/// (base seed, round, role, member, purpose, step), so message interleaving cannot change results and the only
/// "RNG position" a checkpoint needs is the round.
/// </summary>
public static class Seeds
{
    /// <summary>A 63-bit seed mixed from the coordinates with SplitMix64.</summary>
    public static long Derive(long baseSeed, long round, SeedRole role, int member, SeedPurpose purpose, int step = 0)
    {
        var h = Mix((ulong)baseSeed);
        h = Mix(h ^ (ulong)round);
        h = Mix(h ^ (ulong)role);
        h = Mix(h ^ (ulong)(uint)member);
        h = Mix(h ^ (ulong)purpose);
        h = Mix(h ^ (ulong)(uint)step);
        return (long)(h >> 1);
    }

    /// <summary>A torch generator for one draw; dispose it after use.</summary>
    public static Generator Generator(long baseSeed, long round, SeedRole role, int member, SeedPurpose purpose, int step = 0)
        => new((ulong)Derive(baseSeed, round, role, member, purpose, step), CPU);

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
