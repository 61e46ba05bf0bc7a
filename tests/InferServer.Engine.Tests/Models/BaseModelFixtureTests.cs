using InferServer.Engine.Models.Loading;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Models;

/// <summary>Base models (no adapter) against the float64 Hugging Face reference: logits within 1e-4, greedy identical.</summary>
public sealed class BaseModelFixtureTests
{
    private const double LogitTolerance = 1e-4;

    [Theory]
    [InlineData("llama-tiny")]
    [InlineData("gpt2-tiny")]
    public void LastLogits_MatchTransformers(string fixture)
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(ReferenceFixtures.BaseDirectory(fixture), ModelLoadOptions.Cpu);
        using var harness = new CausalHarness(model);
        var inputs = Fixtures.Inputs(fixture);
        var expected = Fixtures.Case(fixture, null).GetProperty("last_logits").EnumerateArray().Select(Fixtures.Numbers).ToArray();
        for (var i = 0; i < inputs.Length; i++)
        {
            var actual = harness.LastLogits([inputs[i]], [0])[0];
            TensorAssert.Close(expected[i], actual, LogitTolerance, $"{fixture} input {i}");
        }
    }

    [Theory]
    [InlineData("llama-tiny")]
    [InlineData("gpt2-tiny")]
    public void LogitsAtEveryPosition_MatchTransformers(string fixture)
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(ReferenceFixtures.BaseDirectory(fixture), ModelLoadOptions.Cpu);
        using var harness = new CausalHarness(model);
        var expected = Fixtures.Case(fixture, null).GetProperty("all_logits_seq0").EnumerateArray().Select(Fixtures.Numbers).ToArray();
        var actual = harness.AllLogits(Fixtures.Inputs(fixture)[0], 0);
        Assert.Equal(expected.Length, actual.Length);
        for (var position = 0; position < expected.Length; position++)
            TensorAssert.Close(expected[position], actual[position], LogitTolerance, $"{fixture} position {position}");
    }

    [Theory]
    [InlineData("llama-tiny")]
    [InlineData("gpt2-tiny")]
    public void GreedyContinuation_MatchesTransformers(string fixture)
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(ReferenceFixtures.BaseDirectory(fixture), ModelLoadOptions.Cpu);
        using var harness = new CausalHarness(model);
        var inputs = Fixtures.Inputs(fixture);
        var expected = Fixtures.Case(fixture, null).GetProperty("greedy").EnumerateArray()
            .Select(g => g.EnumerateArray().Select(t => t.GetInt64()).ToArray()).ToArray();
        for (var i = 0; i < inputs.Length; i++)
            Assert.Equal(expected[i], harness.Greedy([inputs[i]], [0], 8)[0]);
    }

    [Fact]
    public void BertClassProbabilities_MatchTransformers()
    {
        using var model = (ISequenceClassifier)ModelLoader.Load(ReferenceFixtures.BaseDirectory("bert-tiny-cls"), ModelLoadOptions.Cpu);
        var inputs = Fixtures.Inputs("bert-tiny-cls");
        var expected = Fixtures.Case("bert-tiny-cls", null).GetProperty("class_probs").EnumerateArray().Select(Fixtures.Numbers).ToArray();
        Assert.Equal(["negative", "neutral", "positive"], model.Labels);
        for (var i = 0; i < inputs.Length; i++)
        {
            using var scope = NewDisposeScope();
            var pooled = model.Pool(EncoderTestBatch.Of([inputs[i]]));
            var probabilities = model.BaseClassifier(pooled).softmax(-1)[0].data<float>().ToArray();
            TensorAssert.Close(expected[i], probabilities, 1e-5, $"bert input {i}");
        }
    }
}
