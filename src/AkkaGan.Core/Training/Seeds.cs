using static TorchSharp.torch;

namespace AkkaGan.Core.Training;

/// <summary>Which actor role draws a random number (part of every derived seed).</summary>
public enum SeedRole : ulong
{
    /// <summary>The generator.</summary>
    Generator = 1,
    /// <summary>A discriminator (the member index is part of the seed too).</summary>
    Discriminator = 2,
    /// <summary>The coordinator (member selection, evolution).</summary>
    Coordinator = 3,
}

/// <summary>What a random draw is for (part of every derived seed).</summary>
public enum SeedPurpose : ulong
{
    /// <summary>A network's initial weights.</summary>
    Init = 1,
    /// <summary>The noise of a discriminator's fake batch in a critic step.</summary>
    FakeForCritic = 2,
    /// <summary>The noise of the generator step's x_fake.</summary>
    GeneratorStep = 3,
    /// <summary>A discriminator's real batch in a critic step.</summary>
    RealBatch = 4,
    /// <summary>The real batches of the unrolled lookahead's steps.</summary>
    UnrollReal = 5,
    /// <summary>Instance noise on a critic step's inputs.</summary>
    InstanceNoise = 6,
    /// <summary>The interpolation points of a gradient penalty.</summary>
    Penalty = 7,
    /// <summary>The members drawn with aggregate=subset.</summary>
    Subset = 8,
    /// <summary>The fixed noise stream of the evaluation samples.</summary>
    Evaluation = 9,
    /// <summary>The shared real batch fitness is measured on.</summary>
    Fitness = 10,
    /// <summary>The perturbation of an evolved member's learning rate.</summary>
    Evolution = 11,
    /// <summary>Instance noise on the inputs of the generator's feedback.</summary>
    FeedbackNoise = 12,
    /// <summary>The candidates and acceptance draws of discriminator rejection sampling.</summary>
    Rejection = 13,
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
