using InferServer.Kernels.Sampling;

namespace InferServer.Kernels.Tests.Sampling;

public sealed class SequenceRandomTests
{
    [Fact]
    public void SameSeed_GivesTheSameStream()
    {
        var first = new SequenceRandom(12345);
        var second = new SequenceRandom(12345);
        for (var i = 0; i < 1000; i++)
            Assert.Equal(first.NextUInt64(), second.NextUInt64());
    }

    [Fact]
    public void NeighbouringSeeds_GiveUnrelatedStreams()
    {
        // SplitMix64 seeding spreads seeds 0 and 1 over the whole state: no shared value in the first thousand.
        var a = new SequenceRandom(0);
        var b = new SequenceRandom(1);
        var fromA = Enumerable.Range(0, 1000).Select(_ => a.NextUInt64()).ToHashSet();
        Assert.DoesNotContain(Enumerable.Range(0, 1000).Select(_ => b.NextUInt64()), fromA.Contains);
    }

    [Fact]
    public void NextDouble_IsUniformOnTheHalfOpenUnitInterval()
    {
        var random = new SequenceRandom(7);
        var values = Enumerable.Range(0, 100_000).Select(_ => random.NextDouble()).ToArray();
        Assert.All(values, value => Assert.InRange(value, 0.0, Math.BitDecrement(1.0)));
        Assert.InRange(values.Average(), 0.495, 0.505);
        // Each tenth of the interval holds about 10% (standard deviation ≈ 0.1%).
        Assert.All(values.GroupBy(value => (int)(value * 10)), decile => Assert.InRange(decile.Count() / 100_000.0, 0.095, 0.105));
    }

    [Fact]
    public void MissingSeed_IsDrawnAndRecorded()
    {
        var first = SequenceRandom.ForSeed(null);
        var second = SequenceRandom.ForSeed(null);
        Assert.NotEqual(first.Seed, second.Seed);
        var replay = new SequenceRandom(first.Seed);
        Assert.Equal(replay.NextUInt64(), first.NextUInt64());
    }

    [Fact]
    public void GivenSeed_IsUsed()
    {
        Assert.Equal(new SequenceRandom(9).NextUInt64(), SequenceRandom.ForSeed(9).NextUInt64());
    }

    [Fact]
    public void Draws_CountsEveryValue()
    {
        var random = new SequenceRandom(1);
        random.NextUInt64();
        random.NextDouble();
        Assert.Equal(2, random.Draws);
    }
}
