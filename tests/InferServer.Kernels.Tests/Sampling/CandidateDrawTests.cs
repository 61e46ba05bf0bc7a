using InferServer.Kernels.Sampling;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Sampling;

/// <summary>
/// Sampling from each row's most likely tokens (<see cref="CandidateDraw"/>) against the sort of the whole vocabulary it
/// replaces: the same token for the same seed, on peaked and flat distributions, many ties, masked rows, and every cut.
/// </summary>
public sealed class CandidateDrawTests
{
    public static TheoryData<int, string> Shapes => new()
    {
        { 32_000, "peaked" }, { 32_000, "flat" }, { 32_000, "ties" }, { 32_000, "masked" }, { 1_000, "peaked" }, { 100, "flat" },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryRow_DrawsTheTokenTheFullSortDraws(int vocabulary, string shape)
    {
        using var scope = NewDisposeScope();
        var settings = Settings().ToArray();
        var logits = Logits(settings.Length, vocabulary, shape, seed: vocabulary + shape.Length);

        for (var round = 0; round < 2; round++)
        {
            var fast = Sampler.Sample(logits, Rows(settings, round), null, null, sortWholeVocabulary: false);
            var sorted = Sampler.Sample(logits, Rows(settings, round), null, null, sortWholeVocabulary: true);

            Assert.Equal(sorted.Select(t => t.TokenId), fast.Select(t => t.TokenId));
        }
    }

    [Fact]
    public void PeakedRows_AreDecidedByTheirCandidates_FlatOnesFallBack()
    {
        // Guards the test above: the candidate path does decide the rows it should (else that test compares the sort with itself).
        using var scope = NewDisposeScope();
        var nucleus = new SamplingParameters { Temperature = 0.7, TopP = 0.9 };
        var peaked = Logits(8, 32_000, "peaked", seed: 3).to(ScalarType.Float64) / nucleus.Temperature;
        var flat = Logits(8, 32_000, "flat", seed: 4).to(ScalarType.Float64) / nucleus.Temperature;
        double[] Column(double value) => Enumerable.Repeat(value, 8).ToArray();
        var topK = Enumerable.Repeat(32_000L, 8).ToArray();

        var decidedPeaked = CandidateDraw.TryDraw(peaked, topK, Column(0.9), Column(0), Column(0.5));
        var decidedFlat = CandidateDraw.TryDraw(flat, topK, Column(0.9), Column(0), Column(0.5));
        var decidedTopK = CandidateDraw.TryDraw(flat, Enumerable.Repeat(40L, 8).ToArray(), Column(1), Column(0), Column(0.5));

        Assert.All(decidedPeaked, id => Assert.NotNull(id));
        Assert.All(decidedFlat, id => Assert.Null(id));
        Assert.All(decidedTopK, id => Assert.NotNull(id));
    }

    private static IEnumerable<SamplingParameters> Settings()
    {
        foreach (var temperature in new[] { 0.3, 0.7, 1.5 })
        {
            foreach (var topK in new[] { 0, 1, 5, 40, 256, 300 })
            {
                foreach (var topP in new[] { 1.0, 0.9, 0.5, 0.05 })
                {
                    foreach (var minP in new[] { 0.0, 0.05, 0.5 })
                    {
                        yield return new SamplingParameters { Temperature = temperature, TopK = topK, TopP = topP, MinP = minP };
                    }
                }
            }
        }
    }

    private static SamplingRow[] Rows(SamplingParameters[] settings, int round) =>
        [.. settings.Select((p, i) => new SamplingRow(p, new TokenHistory([1]), new SequenceRandom((ulong)(round * 100_003 + i))))];

    /// <summary>
    /// peaked: a few tokens far above a long tail (a trained model's usual shape); flat: all within a few units (a random
    /// model's); ties: integer logits, so thousands of tokens share each value; masked: most tokens -inf, as under a grammar.
    /// </summary>
    private static Tensor Logits(int rows, int vocabulary, string shape, int seed)
    {
        var generator = new Generator((ulong)seed);
        var noise = randn([rows, vocabulary], generator: generator);
        return shape switch
        {
            "peaked" => noise + randn([rows, vocabulary], generator: generator).mul_(4).clamp_min_(0).pow_(2),
            "flat" => noise,
            "ties" => noise.mul_(2).round_(),
            "masked" => noise.masked_fill(rand([rows, vocabulary], generator: generator).gt(0.001), float.NegativeInfinity),
            _ => throw new ArgumentOutOfRangeException(nameof(shape)),
        };
    }
}
