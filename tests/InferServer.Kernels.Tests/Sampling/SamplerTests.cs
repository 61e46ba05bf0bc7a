using InferServer.Kernels.Sampling;
using TorchSharp;
using static InferServer.Kernels.Tests.Sampling.SamplerHarness;

namespace InferServer.Kernels.Tests.Sampling;

public sealed class SamplerTests
{
    private static readonly SamplingParameters Greedy = new() { Temperature = 0 };

    [Fact]
    public void Greedy_PicksTheArgmax()
    {
        Assert.Equal(3, SampleOne([0.1f, -2f, 1.5f, 4f, 3.9f], Row(Greedy)).TokenId);
    }

    [Fact]
    public void Greedy_BreaksTiesTowardsTheLowestId()
    {
        Assert.Equal(2, SampleOne([1f, 3f, 5f, 4f, 5f, 5f], Row(Greedy)).TokenId);
    }

    [Fact]
    public void TemperatureNearZero_AlwaysDrawsTheArgmax()
    {
        // At T = 0.01 a logit gap of 0.5 leaves the runner-up e^-50 of the mass; one random draw would show it.
        var draws = DistinctDraws([1f, 2f, 3f, 2.5f], new SamplingParameters { Temperature = 0.01 }, draws: 2000);
        Assert.Equal([2], draws);
    }

    [Fact]
    public void TemperatureOne_DrawsEveryToken()
    {
        // Guards the argmax test above: at T = 1 the same logits do spread over all four ids.
        var draws = DistinctDraws([1f, 2f, 3f, 2.5f], new SamplingParameters(), draws: 2000);
        Assert.Equal([0, 1, 2, 3], draws.Order());
    }

    [Fact]
    public void TopKOfOne_EqualsGreedy_EvenOnTies()
    {
        var random = new Random(7);
        for (var trial = 0; trial < 20; trial++)
        {
            // Rounded logits tie hundreds of ids at the maximum; a vocabulary this long is where an unstable sort reorders them.
            var logits = RandomLogits(random, 4096).Select(logit => MathF.Round(logit)).ToArray();
            var greedy = SampleOne(logits, Row(Greedy)).TokenId;
            var topOne = SampleOne(logits, Row(new SamplingParameters { TopK = 1 }, seed: (ulong)trial)).TokenId;
            Assert.Equal(greedy, topOne);
        }
    }

    [Fact]
    public void TopK_DrawsOnlyTheKMostLikely()
    {
        var draws = DistinctDraws(Log(0.1, 0.3, 0.15, 0.25, 0.2), new SamplingParameters { TopK = 2 }, draws: 2000);
        Assert.Equal([1, 3], draws.Order());
    }

    [Fact]
    public void TopP_KeepsTheSmallestPrefixWhoseMassReachesP()
    {
        // Sorted: id 1 (0.5), id 3 (0.25), id 0 (0.15), id 2 (0.1). Cumulative 0.5 < 0.7 ≤ 0.75, so ids 1 and 3 survive.
        var logits = Log(0.15, 0.5, 0.1, 0.25);
        Assert.Equal([1, 3], DistinctDraws(logits, new SamplingParameters { TopP = 0.7 }, draws: 2000).Order());
        // At 0.8 the prefix must reach 0.9 and take id 0 as well.
        Assert.Equal([0, 1, 3], DistinctDraws(logits, new SamplingParameters { TopP = 0.8 }, draws: 2000).Order());
    }

    [Fact]
    public void TopP_AppliesToTheTopKDistributionRenormalised()
    {
        // Top-2 leaves 0.5 and 0.25, renormalised 2/3 and 1/3; p = 0.6 is reached by the first alone.
        var draws = DistinctDraws(Log(0.15, 0.5, 0.1, 0.25), new SamplingParameters { TopK = 2, TopP = 0.6 }, draws: 2000);
        Assert.Equal([1], draws);
    }

    [Fact]
    public void MinP_KeepsTokensAtLeastMinPTimesTheMostLikely()
    {
        // Threshold 0.2 · 0.5 = 0.1: 0.3 and 0.12 stay, 0.08 goes.
        var draws = DistinctDraws(Log(0.12, 0.5, 0.08, 0.3), new SamplingParameters { MinP = 0.2 }, draws: 2000);
        Assert.Equal([0, 1, 3], draws.Order());
    }

    [Fact]
    public void RepetitionPenalty_DividesPositiveLogitsOfSeenTokens()
    {
        // Token 0 was in the prompt: 3.0 / 2 = 1.5, bracketed by the unseen token 1.
        var penalty = new SamplingParameters { RepetitionPenalty = 2 };
        Assert.Equal(0, GreedyAfterPenalties([3f, 1.49f], penalty, prompt: [0], generated: []));
        Assert.Equal(1, GreedyAfterPenalties([3f, 1.51f], penalty, prompt: [0], generated: []));
    }

    [Fact]
    public void RepetitionPenalty_MultipliesNegativeLogitsOfSeenTokens()
    {
        // HF multiplies a negative logit, so it falls: -1.0 · 2 = -2.0. Dividing would have raised it to -0.5.
        var penalty = new SamplingParameters { RepetitionPenalty = 2 };
        Assert.Equal(0, GreedyAfterPenalties([-1f, -2.01f], penalty, prompt: [], generated: [0]));
        Assert.Equal(1, GreedyAfterPenalties([-1f, -1.99f], penalty, prompt: [], generated: [0]));
    }

    [Fact]
    public void RepetitionPenalty_LeavesUnseenTokensAlone()
    {
        // Token 1 (2.0) is unseen; token 0 (3.0, seen) drops to 1.5 — unless the penalty touched token 1 too.
        var penalty = new SamplingParameters { RepetitionPenalty = 2 };
        Assert.Equal(1, GreedyAfterPenalties([3f, 2f], penalty, prompt: [0, 0, 0], generated: [0]));
    }

    [Fact]
    public void FrequencyAndPresencePenalties_SubtractCountTimesFrequencyPlusPresence()
    {
        // Token 0 generated 3 times: 2.0 − 3 · 0.5 − 0.25 = 0.25.
        var penalty = new SamplingParameters { FrequencyPenalty = 0.5, PresencePenalty = 0.25 };
        Assert.Equal(0, GreedyAfterPenalties([2f, 0.24f], penalty, prompt: [], generated: [0, 0, 0]));
        Assert.Equal(1, GreedyAfterPenalties([2f, 0.26f], penalty, prompt: [], generated: [0, 0, 0]));
    }

    [Fact]
    public void PresencePenalty_CountsOnceWhateverTheFrequency()
    {
        // 1.0 − 0.75 = 0.25 after five occurrences as after one.
        var penalty = new SamplingParameters { PresencePenalty = 0.75 };
        Assert.Equal(0, GreedyAfterPenalties([1f, 0.24f], penalty, prompt: [], generated: [0, 0, 0, 0, 0]));
        Assert.Equal(1, GreedyAfterPenalties([1f, 0.26f], penalty, prompt: [], generated: [0, 0, 0, 0, 0]));
    }

    [Fact]
    public void FrequencyAndPresencePenalties_IgnorePromptTokens()
    {
        var penalty = new SamplingParameters { FrequencyPenalty = 2, PresencePenalty = 2 };
        Assert.Equal(0, GreedyAfterPenalties([1f, 0.9f], penalty, prompt: [0, 0, 0], generated: []));
    }

    [Fact]
    public void NegativePenalties_RaiseGeneratedTokens()
    {
        // 1.0 + 2 · 0.5 + 0.5 = 2.5.
        var penalty = new SamplingParameters { FrequencyPenalty = -0.5, PresencePenalty = -0.5 };
        Assert.Equal(0, GreedyAfterPenalties([1f, 2.49f], penalty, prompt: [], generated: [0, 0]));
        Assert.Equal(1, GreedyAfterPenalties([1f, 2.51f], penalty, prompt: [], generated: [0, 0]));
    }

    [Fact]
    public void RepetitionPenalty_IsAppliedBeforeFrequencyPenalty()
    {
        // 3.0 / 2 − 2 · 0.5 = 0.5; the other order would give (3.0 − 1.0) / 2 = 1.0.
        var penalty = new SamplingParameters { RepetitionPenalty = 2, FrequencyPenalty = 0.5 };
        Assert.Equal(0, GreedyAfterPenalties([3f, 0.49f], penalty, prompt: [], generated: [0, 0]));
        Assert.Equal(1, GreedyAfterPenalties([3f, 0.51f], penalty, prompt: [], generated: [0, 0]));
    }

    [Fact]
    public void Penalties_DoNotChangeTheCallersLogits()
    {
        using var scope = torch.NewDisposeScope();
        var logits = torch.tensor(new float[] { 3f, 1f, -1f }).reshape(1, 3);
        var row = Row(new SamplingParameters { RepetitionPenalty = 2, FrequencyPenalty = 1 }, generated: [0, 2]);
        Sampler.Sample(logits, [row]);
        Assert.Equal([3f, 1f, -1f], logits.data<float>().ToArray());
    }

    [Fact]
    public void SameSeed_GivesTheSameTokensOverManySteps()
    {
        var logits = RandomLogits(new Random(3), 50, scale: 1);
        var parameters = new SamplingParameters { Temperature = 1.3, TopP = 0.95 };
        Assert.Equal(Generate(logits, parameters, seed: 42, steps: 300), Generate(logits, parameters, seed: 42, steps: 300));
    }

    [Fact]
    public void DifferentSeeds_GiveDifferentTokens()
    {
        var logits = RandomLogits(new Random(3), 50, scale: 1);
        var parameters = new SamplingParameters { Temperature = 1.3, TopP = 0.95 };
        Assert.NotEqual(Generate(logits, parameters, seed: 42, steps: 300), Generate(logits, parameters, seed: 43, steps: 300));
    }

    [Fact]
    public void EveryRow_AdvancesItsRandomStreamByOneDrawPerCall()
    {
        var sampled = Row(new SamplingParameters());
        var greedy = Row(Greedy);
        using var scope = torch.NewDisposeScope();
        Sampler.Sample(torch.zeros(2, 8), [sampled, greedy]);
        Assert.Equal(1, sampled.Random.Draws);
        Assert.Equal(1, greedy.Random.Draws);
    }

    [Fact]
    public void TemperatureOne_DrawsFromTheSoftmax()
    {
        // 20 steps × 1000 seeded rows = 20,000 draws; a 2% band is over five standard deviations for p = 0.4.
        double[] probabilities = [0.1, 0.2, 0.3, 0.4];
        var logits = Log(probabilities);
        var rows = Enumerable.Range(1, 1000).Select(seed => Row(new SamplingParameters(), (ulong)seed)).ToArray();
        var counts = new int[probabilities.Length];
        for (var step = 0; step < 20; step++)
        {
            using var scope = torch.NewDisposeScope();
            var batch = torch.tensor(logits).reshape(1, 4).expand(rows.Length, 4).contiguous();
            foreach (var token in Sampler.Sample(batch, rows))
                counts[token.TokenId]++;
        }
        for (var id = 0; id < probabilities.Length; id++)
            Assert.InRange(counts[id] / 20_000.0, probabilities[id] - 0.02, probabilities[id] + 0.02);
    }

    [Fact]
    public void ChosenLogprob_IsTheLogSoftmaxOfTheRawLogits()
    {
        // Penalties and temperature change the draw, not the reported logprob (vLLM's raw_logprobs).
        var logits = RandomLogits(new Random(11), 40);
        var parameters = new SamplingParameters { Temperature = 0.7, RepetitionPenalty = 1.5, FrequencyPenalty = 1, Logprobs = true };
        var reference = LogSoftmax(logits, logits.Length);
        for (ulong seed = 1; seed <= 20; seed++)
        {
            var token = SampleOne(logits, Row(parameters, seed, prompt: [1, 2, 3], generated: [4, 4]));
            Assert.NotNull(token.Logprob);
            Assert.Equal(reference[token.TokenId], token.Logprob.Value, 1e-5);
        }
    }

    [Fact]
    public void WithoutLogprobs_NothingIsReported()
    {
        var token = SampleOne([1f, 2f], Row(new SamplingParameters()));
        Assert.Null(token.Logprob);
        Assert.Empty(token.TopLogprobs);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(20)]
    public void TopLogprobs_AreTheRequestedNumberOfMostLikelyTokens_SortedDescending(int count)
    {
        var logits = RandomLogits(new Random(5), 64);
        var reference = LogSoftmax(logits, logits.Length);
        var expectedIds = Enumerable.Range(0, logits.Length).OrderByDescending(id => reference[id]).Take(count).ToArray();

        var token = SampleOne(logits, Row(new SamplingParameters { Logprobs = true, TopLogprobs = count }));

        Assert.Equal(expectedIds, token.TopLogprobs.Select(alternative => alternative.TokenId));
        foreach (var alternative in token.TopLogprobs)
            Assert.Equal(reference[alternative.TokenId], alternative.Logprob, 1e-5);
    }

    [Fact]
    public void TopLogprobs_ListTiedTokensByAscendingId()
    {
        var token = SampleOne([1f, 2f, 2f, 0f, 2f], Row(new SamplingParameters { Logprobs = true, TopLogprobs = 3 }));
        Assert.Equal([1, 2, 4], token.TopLogprobs.Select(alternative => alternative.TokenId));
    }

    [Fact]
    public void AllowedVocabulary_MasksThePaddedTail()
    {
        // Ids 4 and 5 are padding with huge logits: neither greedy nor sampling may pick them, nor may logprobs count them.
        float[] logits = [1f, 2f, 0.5f, 1.5f, 50f, 40f];
        var reference = LogSoftmax(logits, vocabulary: 4);

        Assert.Equal(1, SampleOne(logits, Row(Greedy), allowedVocabulary: 4).TokenId);
        var rows = Enumerable.Range(1, 500).Select(seed => Row(new SamplingParameters { Logprobs = true, TopLogprobs = 6 }, (ulong)seed)).ToArray();
        using var scope = torch.NewDisposeScope();
        var batch = torch.tensor(logits).reshape(1, 6).expand(rows.Length, 6).contiguous();
        var tokens = Sampler.Sample(batch, rows, allowedVocabulary: 4);

        Assert.Equal([0, 1, 2, 3], tokens.Select(token => token.TokenId).Distinct().Order());
        foreach (var token in tokens)
        {
            Assert.Equal(reference[token.TokenId], token.Logprob!.Value, 1e-5);
            Assert.Equal([1, 3, 0, 2], token.TopLogprobs.Select(alternative => alternative.TokenId));
        }
    }

    [Fact]
    public void RowOfTheWrongCount_IsRejected()
    {
        using var scope = torch.NewDisposeScope();
        Assert.Throws<ArgumentException>(() => Sampler.Sample(torch.zeros(2, 4), [Row(Greedy)]));
    }

    [Fact]
    public void InvalidParameters_AreRejectedBeforeAnyDraw()
    {
        var valid = Row(new SamplingParameters());
        var invalid = Row(new SamplingParameters { TopP = 0 });
        using var scope = torch.NewDisposeScope();
        var error = Assert.Throws<ArgumentException>(() => Sampler.Sample(torch.zeros(2, 4), [valid, invalid]));
        Assert.Contains("row 1", error.Message);
        Assert.Contains("top_p", error.Message);
        Assert.Equal(0, valid.Random.Draws);
    }

    [Fact]
    public void NonFloat32Logits_AreRejected()
    {
        using var scope = torch.NewDisposeScope();
        Assert.Throws<ArgumentException>(() => Sampler.Sample(torch.zeros(1, 4, torch.ScalarType.Float16), [Row(Greedy)]));
    }

    private static int[] Generate(float[] logits, SamplingParameters parameters, ulong seed, int steps)
    {
        var row = Row(parameters, seed);
        var tokens = new int[steps];
        for (var step = 0; step < steps; step++)
        {
            tokens[step] = SampleOne(logits, row).TokenId;
            row.History.Append(tokens[step]);
        }
        return tokens;
    }
}
