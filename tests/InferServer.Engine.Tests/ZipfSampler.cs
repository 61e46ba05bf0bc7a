namespace InferServer.Engine.Tests;

/// <summary>Seeded Zipf(s) over ranks 0..n-1 by inverse CDF: rank k has weight 1/(k+1)^s.</summary>
public sealed class ZipfSampler
{
    private readonly double[] cumulative;
    private readonly Random random;

    public ZipfSampler(int n, double s, int seed)
    {
        cumulative = new double[n];
        var total = 0.0;
        for (var k = 0; k < n; k++)
            cumulative[k] = total += 1.0 / Math.Pow(k + 1, s);
        for (var k = 0; k < n; k++)
            cumulative[k] /= total;
        random = new Random(seed);
    }

    public int Next()
    {
        var index = Array.BinarySearch(cumulative, random.NextDouble());
        return Math.Min(index < 0 ? ~index : index, cumulative.Length - 1);
    }
}
