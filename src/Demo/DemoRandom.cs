namespace InferServer.Demo;

/// <summary>
/// The demo weights' random numbers: SplitMix64 (Steele, Lea and Flood 2014), one stream per tensor, so that a demo
/// model is a function of its seed alone and adding a tensor or an adapter leaves every other tensor unchanged.
/// </summary>
/// <remarks>
/// Normals come from the Irwin–Hall sum of twelve uniforms minus six (mean 0, variance 1), not Box–Muller. Why: the
/// files must be byte-identical on every machine, and IEEE addition and multiplication are correctly rounded
/// everywhere while Math.Log and Math.Cos come from the platform's C library and may differ in the last bit. The
/// distribution is bounded at ±6σ, which initial weights never miss.
/// </remarks>
internal sealed class DemoRandom
{
    private ulong state;

    private DemoRandom(ulong state) => this.state = state;

    /// <summary>The stream named <paramref name="stream"/> (a tensor key) of demo seed <paramref name="seed"/>.</summary>
    public static DemoRandom For(int seed, string stream)
    {
        // FNV-1a of the name, mixed with the seed through SplitMix64's own increment constant.
        var hash = 14695981039346656037UL;
        foreach (var c in stream)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }
        return new DemoRandom(hash ^ ((ulong)(uint)seed * 0x9E3779B97F4A7C15UL));
    }

    /// <summary>The next 64 random bits (SplitMix64's output function).</summary>
    public ulong NextUInt64()
    {
        state += 0x9E3779B97F4A7C15UL;
        var z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Approximately standard normal (Irwin–Hall, n = 12).</summary>
    public double NextStandardNormal()
    {
        var sum = 0.0;
        for (var i = 0; i < 12; i++)
        {
            sum += NextDouble();
        }

        return sum - 6.0;
    }

    /// <summary><paramref name="count"/> values of mean <paramref name="mean"/> and standard deviation <paramref name="std"/>.</summary>
    public float[] Normal(long count, double mean, double std)
    {
        var values = new float[count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)(mean + std * NextStandardNormal());
        }

        return values;
    }
}
