using InferServer.LoadGen.Scenarios;

namespace InferServer.LoadGen.Tests.Scenarios;

public sealed class ZipfSamplerTests
{
    [Fact]
    public void Probabilities_AreTheNormalisedPowerLaw()
    {
        var sampler = new ZipfSampler(100, 1.2);
        var harmonic = Enumerable.Range(1, 100).Sum(k => Math.Pow(k, -1.2));
        for (var rank = 0; rank < 100; rank++)
        {
            Assert.Equal(Math.Pow(rank + 1, -1.2) / harmonic, sampler.Probability(rank), 12);
        }
    }

    [Fact]
    public void InverseCdf_MapsIntervalBoundariesToTheNextRank()
    {
        var sampler = new ZipfSampler(3, 1.0);
        // P = (6/11, 3/11, 2/11): rank 0 owns [0, 6/11), rank 1 [6/11, 9/11), rank 2 [9/11, 1).
        Assert.Equal(0, sampler.RankOf(0.0));
        Assert.Equal(0, sampler.RankOf(6.0 / 11 - 1e-12));
        Assert.Equal(1, sampler.RankOf(6.0 / 11 + 1e-12));
        Assert.Equal(2, sampler.RankOf(9.0 / 11 + 1e-12));
        Assert.Equal(2, sampler.RankOf(1.0 - 1e-16));
    }

    [Fact]
    public void Samples_FollowTheDistribution_ChiSquare()
    {
        const int draws = 200_000;
        var sampler = new ZipfSampler(20, 1.2);
        var counts = new int[20];
        var random = new Random(7);
        for (var i = 0; i < draws; i++) counts[sampler.Sample(random)]++;
        var chiSquare = Enumerable.Range(0, 20).Sum(rank =>
        {
            var expected = draws * sampler.Probability(rank);
            return (counts[rank] - expected) * (counts[rank] - expected) / expected;
        });
        // 19 degrees of freedom: the 99.9th percentile of χ² is 43.8; a wrong sampler lands in the thousands.
        Assert.True(chiSquare < 43.8, $"χ² = {chiSquare}");
    }

    [Fact]
    public void ExponentZero_IsUniform()
    {
        var sampler = new ZipfSampler(4, 0);
        Assert.All(Enumerable.Range(0, 4), rank => Assert.Equal(0.25, sampler.Probability(rank), 12));
    }

    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(5, -1.0)]
    [InlineData(5, double.NaN)]
    public void InvalidParameters_AreRefused(int count, double exponent) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ZipfSampler(count, exponent));
}
