using System.Security.Cryptography;

namespace InferServer.Kernels.Sampling;

/// <summary>
/// One request's random stream: xoshiro256** (Blackman and Vigna 2018), its 256-bit state filled from the 64-bit seed
/// by SplitMix64 as the authors recommend. Owned by one request, so a row's draws never depend on which other requests
/// run beside it (vLLM keeps a per-request <c>torch.Generator</c> for seeded requests for the same reason). The
/// <see cref="Sampler"/> takes exactly one draw per sampled token, greedy rows included, so the state after n tokens
/// is a function of the seed and n alone. Not thread-safe; a request is sampled on the engine thread only.
/// </summary>
public sealed class SequenceRandom
{
    private ulong s0;
    private ulong s1;
    private ulong s2;
    private ulong s3;

    /// <summary>A stream fixed by <paramref name="seed"/>.</summary>
    public SequenceRandom(ulong seed)
    {
        Seed = seed;
        var splitMix = seed;
        s0 = SplitMix64(ref splitMix);
        s1 = SplitMix64(ref splitMix);
        s2 = SplitMix64(ref splitMix);
        s3 = SplitMix64(ref splitMix);
    }

    /// <summary>The seed this stream started from; for a request without one, the seed that was drawn (worth logging for replay).</summary>
    public ulong Seed { get; }

    /// <summary>Number of values drawn so far.</summary>
    public long Draws { get; private set; }

    /// <summary>The stream for a request: its own seed, or one drawn from the OS generator when it gave none.</summary>
    public static SequenceRandom ForSeed(ulong? seed) =>
        new(seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong))));

    /// <summary>Next 64 random bits (xoshiro256** step).</summary>
    public ulong NextUInt64()
    {
        var result = ulong.RotateLeft(s1 * 5, 7) * 9;
        var t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = ulong.RotateLeft(s3, 45);
        Draws++;
        return result;
    }

    /// <summary>Uniform in [0, 1): the top 53 bits scaled by 2⁻⁵³, so every value is an exact double and 1 is never returned.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    private static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
