using InferServer.Engine.Models.Loading;
using InferServer.Demo;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Tests.Models;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// The served Llama-family models (float32, adapters in slot pools, KV cache) against the float64 reference on the cases
/// the Hugging Face fixtures lack. 1e-4 on logits is the fixtures' float32 bound (tests/fixtures/README.md).
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class LlamaFamilyReferenceTests(DemoModels demo)
{
    private const double LogitTolerance = 1e-4;

    /// <summary>An effect ten times what the comparison tolerates: a model that ignored it could not pass.</summary>
    private const double VisibleEffect = 10 * LogitTolerance;

    public static TheoryData<DemoModelKind, string?> Cases => ReferenceCases.ModelsAndAdapters;

    [Theory]
    [MemberData(nameof(Cases))]
    public void LastLogits_MatchTheFloat64Reference(DemoModelKind kind, string? adapter)
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(demo.Directory(kind), ModelLoadOptions.Cpu);
        using var pooled = adapter is null ? null : new PooledAdapters(model, demo.AdapterDirectory(kind, adapter));
        using var harness = new CausalHarness(model, ReferenceCases.SlotsPerSequence);
        using var reference = ReferenceLlama.Load(demo.Directory(kind));
        using var lora = adapter is null ? null : ReferenceLora.Load(demo.AdapterDirectory(kind, adapter));

        foreach (var prompt in ReferenceCases.Prompts(demo, kind))
        {
            var expected = reference.LastLogits(prompt, lora);
            var actual = harness.LastLogits([prompt], [adapter is null ? 0 : 1])[0];

            var difference = TensorAssert.MaxDifference(expected, actual);
            Assert.True(difference <= LogitTolerance, $"{kind}/{adapter ?? "base"}, {prompt.Length} tokens: {difference:E3} > {LogitTolerance:E0}");
            if (lora is not null)
            {
                // Otherwise a pool that silently did nothing would pass.
                var adapterEffect = TensorAssert.MaxDifference(reference.LastLogits(prompt), Array.ConvertAll(expected, e => (float)e));
                Assert.True(adapterEffect > VisibleEffect, $"{adapter} moves the logits by only {adapterEffect:E3}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyContinuation_EqualsTheReference(DemoModelKind kind, string? adapter)
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(demo.Directory(kind), ModelLoadOptions.Cpu);
        using var pooled = adapter is null ? null : new PooledAdapters(model, demo.AdapterDirectory(kind, adapter));
        using var harness = new CausalHarness(model, ReferenceCases.SlotsPerSequence);
        using var reference = ReferenceLlama.Load(demo.Directory(kind));
        using var lora = adapter is null ? null : ReferenceLora.Load(demo.AdapterDirectory(kind, adapter));

        foreach (var prompt in ReferenceCases.Prompts(demo, kind))
            Assert.Equal(reference.Greedy(prompt, lora, 8).Tokens, harness.Greedy([prompt], [adapter is null ? 0 : 1], 8)[0]);
    }

    [Fact]
    public void Llama3Demo_RopeScalingChangesTheLogits_SoTheComparisonAboveCoversIt()
    {
        using var scaled = ReferenceLlama.Load(demo.Directory(DemoModelKind.Llama3));
        using var unscaled = ReferenceLlama.Load(demo.Directory(DemoModelKind.Llama3), ignoreRopeScaling: true);

        foreach (var prompt in ReferenceCases.Prompts(demo, DemoModelKind.Llama3))
        {
            var effect = TensorAssert.MaxDifference(scaled.LastLogits(prompt), Array.ConvertAll(unscaled.LastLogits(prompt), l => (float)l));
            Assert.True(effect > VisibleEffect, $"{prompt.Length} tokens: rope_scaling moves the logits by only {effect:E3}");
        }
    }

    [Fact]
    public void ReferenceLora_ReadsPeftScalesFromTheConfig()
    {
        using var patterned = ReferenceLora.Load(demo.AdapterDirectory(DemoModelKind.Llama, "support-rank-pattern"));
        using var rslora = ReferenceLora.Load(demo.AdapterDirectory(DemoModelKind.Llama, "summarize-r4-rslora"));
        using var layer1 = ReferenceLora.Load(demo.AdapterDirectory(DemoModelKind.Llama, "layer1-only"));

        Assert.Equal(16.0 / 4, patterned.Scales["model.layers.1.self_attn.o_proj"]);
        Assert.Equal(8.0 / 16, patterned.Scales["model.layers.1.self_attn.q_proj"]);
        Assert.Equal(16.0 / 8, patterned.Scales["model.layers.0.self_attn.q_proj"]);
        Assert.All(rslora.Scales.Values, scale => Assert.Equal(8 / Math.Sqrt(4), scale));
        Assert.All(layer1.Scales.Keys, module => Assert.StartsWith("model.layers.1.", module));
    }
}
