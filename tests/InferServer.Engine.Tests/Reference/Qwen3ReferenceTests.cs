using InferServer.Demo;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Models.Loading;
using InferServer.Engine.Tests;
using InferServer.Engine.Tests.Models;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// The qwen3 demo (Qwen3ForCausalLM: q_norm/k_norm before RoPE, head_dim 16 with 4 heads on hidden 32, tied head) served in
/// float32 with adapters in slot pools and a KV cache, against the float64 reference transcribed from transformers'
/// modeling_qwen3.py (<see cref="ReferenceLlama"/>) and PEFT's layers (<see cref="ReferenceLora"/>): base, LoRA, all-linear
/// LoRA, DoRA, and LoRA on embed_tokens and lm_head, alone and mixed in one batch. 1e-4 is the float32 agreement the HF
/// fixtures use for logits (tests/fixtures/README.md).
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class Qwen3ReferenceTests(DemoModels demo, ITestOutputHelper output)
{
    private const double LogitTolerance = 1e-4;

    /// <summary>Float32 reassociation between batch shapes only, as in <see cref="PeftAdapterKindsReferenceTests"/>.</summary>
    private const double SoloTolerance = 5e-5;

    /// <summary>An effect ten times what the comparison tolerates: a model that ignored it could not pass.</summary>
    private const double VisibleEffect = 10 * LogitTolerance;

    public static TheoryData<string?> Adapters => [null, .. ReferenceCases.Qwen3Adapters];

    private string Directory => demo.Directory(DemoModelKind.Qwen3);

    [Theory]
    [MemberData(nameof(Adapters))]
    public void Qwen3LastLogits_MatchTheFloat64Reference_AndTheAdapterVisiblyMovesThem(string? adapter)
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(Directory, ModelLoadOptions.Cpu);
        using var pooled = adapter is null ? null : new PooledAdapters(model, demo.AdapterDirectory(DemoModelKind.Qwen3, adapter));
        using var harness = new CausalHarness(model, ReferenceCases.SlotsPerSequence);
        using var reference = ReferenceLlama.Load(Directory);
        using var lora = adapter is null ? null : ReferenceLora.Load(demo.AdapterDirectory(DemoModelKind.Qwen3, adapter));

        Assert.Equal("qwen3", model.ModelType);
        var worst = 0.0;
        foreach (var prompt in ReferenceCases.Prompts(demo, DemoModelKind.Qwen3))
        {
            var expected = reference.LastLogits(prompt, lora);
            var difference = TensorAssert.MaxDifference(expected, harness.LastLogits([prompt], [adapter is null ? 0 : 1])[0]);
            Assert.True(difference <= LogitTolerance, $"{adapter ?? "base"}, {prompt.Length} tokens: {difference:E3} > {LogitTolerance:E0}");
            worst = Math.Max(worst, difference);
            if (lora is not null)
            {
                var effect = TensorAssert.MaxDifference(reference.LastLogits(prompt), Array.ConvertAll(expected, e => (float)e));
                Assert.True(effect > VisibleEffect, $"{adapter} moves the logits by only {effect:E3}");
            }
        }
        output.WriteLine($"qwen3/{adapter ?? "base"}: max |float32 - float64 reference| = {worst:E3}");
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public void Qwen3GreedyContinuation_EqualsTheReference(string? adapter)
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(Directory, ModelLoadOptions.Cpu);
        using var pooled = adapter is null ? null : new PooledAdapters(model, demo.AdapterDirectory(DemoModelKind.Qwen3, adapter));
        using var harness = new CausalHarness(model, ReferenceCases.SlotsPerSequence);
        using var reference = ReferenceLlama.Load(Directory);
        using var lora = adapter is null ? null : ReferenceLora.Load(demo.AdapterDirectory(DemoModelKind.Qwen3, adapter));

        foreach (var prompt in ReferenceCases.Prompts(demo, DemoModelKind.Qwen3))
            Assert.Equal(reference.Greedy(prompt, lora, 8).Tokens, harness.Greedy([prompt], [adapter is null ? 0 : 1], 8)[0]);
    }

    [Fact]
    public void Qwen3MixedBatch_OfLoraDoraEmbeddingHeadAndBaseRows_GivesEachRowItsSoloAndReferenceResult()
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(Directory, ModelLoadOptions.Cpu);
        var adapters = ReferenceCases.Qwen3Adapters;
        using var pooled = new PooledAdapters(model, [.. adapters.Select(adapter => demo.AdapterDirectory(DemoModelKind.Qwen3, adapter))]);
        using var harness = new CausalHarness(model, ReferenceCases.SlotsPerSequence);
        using var reference = ReferenceLlama.Load(Directory);
        var loras = adapters.Select(adapter => ReferenceLora.Load(demo.AdapterDirectory(DemoModelKind.Qwen3, adapter))).ToArray();
        try
        {
            var prompts = ReferenceCases.Prompts(demo, DemoModelKind.Qwen3);
            // Every slot (adapter i in slot i + 1) and two base rows, prompts of different lengths interleaved.
            int[] slots = [3, 0, 1, 4, 2, 0, 3, 4, 1];
            long[][] rows = [.. slots.Select((_, i) => prompts[i % prompts.Length])];

            var batchLogits = harness.LastLogits(rows, slots);
            var batchGreedy = harness.Greedy(rows, slots, 6);

            var worst = 0.0;
            for (var i = 0; i < rows.Length; i++)
            {
                var lora = slots[i] == 0 ? null : loras[slots[i] - 1];
                var solo = harness.LastLogits([rows[i]], [slots[i]])[0];
                var soloDifference = TensorAssert.MaxDifference(Array.ConvertAll(solo, l => (double)l), batchLogits[i]);
                Assert.True(soloDifference <= SoloTolerance, $"row {i} (slot {slots[i]}): {soloDifference:E3} from its solo logits");
                var referenceDifference = TensorAssert.MaxDifference(reference.LastLogits(rows[i], lora), batchLogits[i]);
                Assert.True(referenceDifference <= LogitTolerance, $"row {i} (slot {slots[i]}): {referenceDifference:E3} from the reference");
                worst = Math.Max(worst, referenceDifference);
                Assert.Equal(harness.Greedy([rows[i]], [slots[i]], 6)[0], batchGreedy[i]);
                Assert.Equal(reference.Greedy(rows[i], lora, 6).Tokens, batchGreedy[i]);
            }
            output.WriteLine($"qwen3 mixed batch: max |float32 - float64 reference| = {worst:E3}");
        }
        finally
        {
            foreach (var lora in loras)
                lora.Dispose();
        }
    }

    [Fact]
    public void Qwen3Demo_QueryKeyNormsChangeTheLogits_SoTheComparisonsAboveCoverThem()
    {
        using var normed = ReferenceLlama.Load(Directory);
        using var unnormed = ReferenceLlama.Load(Directory, ignoreQueryKeyNorm: true);

        foreach (var prompt in ReferenceCases.Prompts(demo, DemoModelKind.Qwen3))
        {
            var effect = TensorAssert.MaxDifference(normed.LastLogits(prompt), Array.ConvertAll(unnormed.LastLogits(prompt), l => (float)l));
            Assert.True(effect > VisibleEffect, $"{prompt.Length} tokens: q_norm/k_norm move the logits by only {effect:E3}");
        }
    }
}
