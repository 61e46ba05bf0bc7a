namespace InferServer.LoadGen.Scenarios;

/// <summary>
/// Draws ranks 0..n-1 with P(k) ∝ (k+1)^-α by inverse-CDF sampling: the cumulative weights are built once and a
/// uniform draw is located by binary search, so each sample is O(log n) and the distribution is exact (no rejection
/// step, unlike the α &gt; 1-only samplers in numpy.random.zipf, which also have an unbounded support).
/// </summary>
public sealed class ZipfSampler
{
    private readonly double[] cumulative;

    public ZipfSampler(int count, double exponent)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (!(exponent >= 0) || double.IsInfinity(exponent))
            throw new ArgumentOutOfRangeException(nameof(exponent), exponent, "the Zipf exponent must be finite and non-negative");
        cumulative = new double[count];
        var total = 0.0;
        for (var k = 0; k < count; k++)
        {
            total += Math.Pow(k + 1, -exponent);
            cumulative[k] = total;
        }
        for (var k = 0; k < count; k++)
        {
            cumulative[k] /= total;
        }
        // Rounding can leave the last entry a hair below 1; a draw there must still land on the last rank.
        cumulative[^1] = 1.0;
    }

    /// <summary>Number of ranks.</summary>
    public int Count => cumulative.Length;

    /// <summary>The exact probability of rank <paramref name="rank"/>.</summary>
    public double Probability(int rank) => rank == 0 ? cumulative[0] : cumulative[rank] - cumulative[rank - 1];

    /// <summary>The rank whose CDF interval holds <paramref name="uniform"/>, a value in [0, 1).</summary>
    public int RankOf(double uniform)
    {
        var index = Array.BinarySearch(cumulative, uniform);
        // An exact hit on a boundary belongs to the next interval ([F(k-1), F(k)) is rank k); a miss gives the insertion point.
        var rank = index >= 0 ? index + 1 : ~index;
        return Math.Min(rank, cumulative.Length - 1);
    }

    /// <summary>A rank drawn from <paramref name="random"/>.</summary>
    public int Sample(Random random) => RankOf(random.NextDouble());
}
