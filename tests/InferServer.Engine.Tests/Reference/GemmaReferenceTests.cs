using InferServer.Demo;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Models.Loading;
using InferServer.Engine.Tests.Models;
using InferServer.Engine.Tokenization;
using Xunit.Abstractions;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// The gemma2 and gemma3 demos served in float32 (KV cache, adapters in slot pools) against <see cref="ReferenceGemma"/>:
/// last logits within 1e-4 and greedy tokens identical, for the base and each adapter kind (LoRA, all-linear LoRA, DoRA,
/// LoRA on the embedding and the tied head), alone and mixed in one batch. Prompts run past the demos' 6-token sliding
/// window, and greedy decoding goes further, so the windowed layers are exercised in prefill and in decode.
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class GemmaReferenceTests(DemoModels demo, ITestOutputHelper output)
{
    private const double LogitTolerance = 1e-4;

    /// <summary>Float32 reassociation between batch shapes only.</summary>
    private const double SoloTolerance = 5e-5;

    private const double VisibleEffect = 10 * LogitTolerance;

    private static readonly string[] AdapterNames = ["chat-r8", "all-linear-r4", "dora-r8", "embed-head-r4"];

    public static TheoryData<DemoModelKind, string?> Cases
    {
        get
        {
            var cases = new TheoryData<DemoModelKind, string?>();
            foreach (var kind in new[] { DemoModelKind.Gemma2, DemoModelKind.Gemma3 })
            {
                cases.Add(kind, null);
                foreach (var adapter in AdapterNames)
                    cases.Add(kind, adapter);
            }
            return cases;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LastLogitsAndGreedyTokens_MatchTheFloat64Reference(DemoModelKind kind, string? adapter)
    {
        var directory = demo.Directory(kind);
        using var model = (ICausalLanguageModel)ModelLoader.Load(directory, ModelLoadOptions.Cpu);
        using var pooled = adapter is null ? null : new PooledAdapters(model, demo.AdapterDirectory(kind, adapter));
        using var harness = new CausalHarness(model, ReferenceCases.SlotsPerSequence);
        using var reference = ReferenceGemma.Load(directory);
        using var lora = adapter is null ? null : ReferenceLora.Load(demo.AdapterDirectory(kind, adapter));

        var worst = 0.0;
        foreach (var prompt in Prompts(kind))
        {
            var expected = reference.LastLogits(prompt, lora);
            var difference = TensorAssert.MaxDifference(expected, harness.LastLogits([prompt], [adapter is null ? 0 : 1])[0]);
            Assert.True(difference <= LogitTolerance, $"{kind}/{adapter ?? "base"}, {prompt.Length} tokens: {difference:E3}");
            worst = Math.Max(worst, difference);
            Assert.Equal(reference.Greedy(prompt, lora, 5), harness.Greedy([prompt], [adapter is null ? 0 : 1], 5)[0]);
            if (lora is not null)
            {
                var effect = TensorAssert.MaxDifference(reference.LastLogits(prompt), Array.ConvertAll(expected, e => (float)e));
                Assert.True(effect > VisibleEffect, $"{adapter} moves the logits by only {effect:E3}");
            }
        }
        output.WriteLine($"{kind}/{adapter ?? "base"}: max |float32 - float64 reference| = {worst:E3}");
    }

    [Theory]
    [InlineData(DemoModelKind.Gemma2)]
    [InlineData(DemoModelKind.Gemma3)]
    public void MixedBatch_OfEveryAdapterKindAndTheBase_GivesEachRowItsSoloAndReferenceResult(DemoModelKind kind)
    {
        var directory = demo.Directory(kind);
        using var model = (ICausalLanguageModel)ModelLoader.Load(directory, ModelLoadOptions.Cpu);
        using var pooled = new PooledAdapters(model, [.. AdapterNames.Select(adapter => demo.AdapterDirectory(kind, adapter))]);
        using var harness = new CausalHarness(model, ReferenceCases.SlotsPerSequence);
        using var reference = ReferenceGemma.Load(directory);
        var loras = AdapterNames.Select(adapter => ReferenceLora.Load(demo.AdapterDirectory(kind, adapter))).ToArray();
        try
        {
            var prompts = Prompts(kind);
            int[] slots = [3, 0, 1, 4, 2, 0, 3, 4, 1];
            long[][] rows = [.. slots.Select((_, i) => prompts[i % prompts.Length])];

            var batchLogits = harness.LastLogits(rows, slots);
            var batchGreedy = harness.Greedy(rows, slots, 6);

            for (var i = 0; i < rows.Length; i++)
            {
                var lora = slots[i] == 0 ? null : loras[slots[i] - 1];
                var solo = harness.LastLogits([rows[i]], [slots[i]])[0];
                Assert.True(TensorAssert.MaxDifference(Array.ConvertAll(solo, l => (double)l), batchLogits[i]) <= SoloTolerance, $"row {i}: solo");
                Assert.True(TensorAssert.MaxDifference(reference.LastLogits(rows[i], lora), batchLogits[i]) <= LogitTolerance, $"row {i}: reference");
                Assert.Equal(reference.Greedy(rows[i], lora, 6), batchGreedy[i]);
            }
        }
        finally
        {
            foreach (var lora in loras)
                lora.Dispose();
        }
    }

    [Theory]
    [InlineData(DemoModelKind.Gemma2, true)]
    [InlineData(DemoModelKind.Gemma3, false)]
    public void SlidingWindowAndSoftCaps_VisiblyChangeTheReference_SoTheComparisonsAboveCoverThem(DemoModelKind kind, bool softCapped)
    {
        var directory = demo.Directory(kind);
        using var reference = ReferenceGemma.Load(directory);
        using var unwindowed = ReferenceGemma.Load(directory, ignoreWindow: true);
        using var uncapped = ReferenceGemma.Load(directory, ignoreSoftCaps: true);
        var longest = Prompts(kind).MaxBy(p => p.Length)!;
        Assert.True(longest.Length > 6, "the window must be shorter than the prompt");

        var expected = reference.LastLogits(longest);
        Assert.True(TensorAssert.MaxDifference(expected, Array.ConvertAll(unwindowed.LastLogits(longest), l => (float)l)) > VisibleEffect);
        var capEffect = TensorAssert.MaxDifference(expected, Array.ConvertAll(uncapped.LastLogits(longest), l => (float)l));
        Assert.Equal(softCapped, capEffect > VisibleEffect);
    }

    private long[][] Prompts(DemoModelKind kind)
    {
        var tokenizer = TokenizerLoader.Load(demo.Directory(kind));
        string[] texts = ["Once upon a time", "SELECT name FROM users WHERE id =", string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 4))];
        return [.. texts.Select(text => tokenizer.Encode(text, addSpecialTokens: false).Select(id => (long)id).ToArray())];
    }
}
