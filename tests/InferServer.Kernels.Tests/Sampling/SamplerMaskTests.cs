using InferServer.Kernels.Sampling;
using TorchSharp;

namespace InferServer.Kernels.Tests.Sampling;

/// <summary>Token masks (structured outputs): masked rows draw only allowed ids, unmasked rows are untouched, logprobs stay raw.</summary>
public sealed class SamplerMaskTests
{
    private static readonly float[] Logits = [.. Enumerable.Range(0, 50).Select(i => (float)Math.Sin(i) * 3)];

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.8)]
    [InlineData(1.5)]
    public void AMaskedRow_DrawsOnlyAllowedIds_WhileAFreeRowInTheSameCallIsUnchanged(double temperature)
    {
        // The allowed ids are the least likely ones, so an unmasked draw would almost never pick them.
        var allowedIds = Enumerable.Range(0, 50).OrderBy(i => Logits[i]).Take(3).ToHashSet();
        var mask = Enumerable.Range(0, 50).Select(allowedIds.Contains).ToArray();
        var parameters = new SamplingParameters { Temperature = temperature, TopP = 0.9, TopK = 10, Logprobs = true };
        for (ulong seed = 1; seed <= 30; seed++)
        {
            using var scope = torch.NewDisposeScope();
            var logits = torch.tensor([.. Logits, .. Logits]).reshape(2, 50);
            var both = Sampler.Sample(logits, [SamplerHarness.Row(parameters, seed), SamplerHarness.Row(parameters, seed)], null, [mask, null]);
            var alone = SamplerHarness.SampleOne(Logits, SamplerHarness.Row(parameters, seed));

            Assert.Contains(both[0].TokenId, allowedIds);
            Assert.Equal(alone.TokenId, both[1].TokenId);
            // Raw logprobs: the masked row reports the chosen token's probability under the unmasked model.
            var reference = SamplerHarness.SampleOne(Logits, SamplerHarness.Row(parameters with { Temperature = 0 }, seed));
            Assert.True(both[0].Logprob < reference.Logprob, "a masked-in unlikely token keeps its raw (low) logprob");
        }
    }

    [Fact]
    public void AMaskShorterThanTheVocabulary_IsRefused()
    {
        using var scope = torch.NewDisposeScope();
        var logits = torch.tensor(Logits).reshape(1, 50);
        Assert.Throws<ArgumentException>(() => Sampler.Sample(logits, [SamplerHarness.Row(new SamplingParameters())], null, [new bool[10]]));
    }
}
