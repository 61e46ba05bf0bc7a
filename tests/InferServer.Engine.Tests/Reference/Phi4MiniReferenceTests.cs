using System.Text.Json.Nodes;
using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Peft;
using InferServer.Demo;
using InferServer.Engine.Composition;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Models.Loading;
using InferServer.Engine.Tests.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// The phi4mini demo (Phi-4-mini's partial_rotary_factor 0.75, longrope with an original context of 64, tied embeddings)
/// against <see cref="ReferenceLlama"/>'s float64 transcription of modeling_phi3.py and modeling_rope_utils.py: logits
/// within 1e-4 and greedy tokens identical for the base and every adapter (one on the fused qkv_proj and gate_up_proj),
/// alone and in mixed batches where short prompts (short factors) share steps with a long one (long factors).
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class Phi4MiniReferenceTests(DemoModels demo, ITestOutputHelper output)
{
    private const double LogitTolerance = 1e-4;
    private const int OriginalContext = 64;
    private static readonly string[] AdapterNames = ["qkv-gate-up-r8", "all-linear-r4", "dora-r8", "embed-head-r4"];

    private string Directory => demo.Directory(DemoModelKind.Phi4Mini);

    [Fact]
    public void MixedBatchOfEveryAdapterAndTheBase_ShortAndLongPrompts_MatchTheReference_RowByRow()
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(Directory, ModelLoadOptions.Cpu);
        using var pooled = new PooledAdapters(model, [.. AdapterNames.Select(a => demo.AdapterDirectory(DemoModelKind.Phi4Mini, a))]);
        using var harness = new CausalHarness(model, ReferenceCases.SlotsPerSequence);
        using var reference = ReferenceLlama.Load(Directory);
        using var plain = ReferenceLlama.Load(Directory, ignoreRopeScaling: true);
        var loras = AdapterNames.Select(a => ReferenceLora.Load(demo.AdapterDirectory(DemoModelKind.Phi4Mini, a))).ToArray();
        try
        {
            var prompts = ReferenceCases.Prompts(demo, DemoModelKind.Phi4Mini);
            Assert.True(prompts[0].Length + 5 <= OriginalContext && prompts[2].Length > OriginalContext, "one prompt on each side of the original context");
            int[] slots = [0, 1, 2, 3, 4, 2, 0, 4, 1, 3];
            long[][] rows = [.. slots.Select((_, i) => prompts[i % prompts.Length])];
            var logits = harness.LastLogits(rows, slots);
            var greedy = harness.Greedy(rows, slots, 5);
            var worst = 0.0;
            for (var i = 0; i < rows.Length; i++)
            {
                var lora = slots[i] == 0 ? null : loras[slots[i] - 1];
                var expected = reference.LastLogits(rows[i], lora);
                var difference = TensorAssert.MaxDifference(expected, logits[i]);
                Assert.True(difference <= LogitTolerance, $"row {i} (slot {slots[i]}, {rows[i].Length} tokens): {difference:E3}");
                worst = Math.Max(worst, difference);
                Assert.Equal(reference.Greedy(rows[i], lora, 5).Tokens, greedy[i]);
                Assert.Equal(greedy[i], harness.Greedy([rows[i]], [slots[i]], 5)[0]);
                // The rope scaling matters on both sides of the original context: plain RoPE on 12 of 16 dimensions is far off.
                Assert.True(TensorAssert.MaxDifference(plain.LastLogits(rows[i], lora), Array.ConvertAll(expected, e => (float)e)) > 10 * LogitTolerance);
            }
            output.WriteLine($"phi4mini mixed batch: max |float32 - float64 reference| = {worst:E3}");
        }
        finally
        {
            foreach (var lora in loras)
                lora.Dispose();
        }
    }

    [Fact]
    public void ASequenceThatOutgrowsTheOriginalContextWhileDecoding_RotatesItsNewTokensWithTheLongFactors_AsTransformersCachedGenerateDoes()
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(Directory, ModelLoadOptions.Cpu);
        using var harness = new CausalHarness(model, ReferenceCases.SlotsPerSequence);
        using var reference = ReferenceLlama.Load(Directory);
        var prompt = ReferenceCases.Prompts(demo, DemoModelKind.Phi4Mini)[2][..(OriginalContext - 4)];

        // The prefill (60 tokens) uses the short factors; decoding positions 64 on (sequence length 65 and more) the long ones,
        // while the cached keys of earlier positions keep their rotation.
        var served = harness.Greedy([prompt], [0], 8)[0];

        Assert.Equal(reference.Greedy(prompt, null, 8, cached: true).Tokens, served);
        var gaps = reference.Greedy(prompt, null, 8, cached: true).TopTwoGaps;
        output.WriteLine($"smallest top-two gap: {gaps.Min():E3}; without a cache: {string.Join(",", reference.Greedy(prompt, null, 8).Tokens)}");
    }

    [Fact]
    public async Task TheEngine_ChunkingALongPromptAndReusingNoPrefixAcrossRegimes_GivesTransformersGreedyTokens()
    {
        var options = new EngineOptions
        {
            ModelPath = Directory,
            // The 100-token prompt is prefilled in chunks of at most 24 tokens, its first chunks within the original context.
            MaxBatchRows = 8,
            MaxBatchTokens = 24,
            MaxContextTokens = 160,
            KvCacheBytes = 8L * 1024 * 1024,
        };
        var store = new AdapterStoreOptions
        {
            AdapterRoots = [Path.Combine(Directory, "adapters")],
            DeviceSlots = 2,
            MaxRank = 16,
        };
        await using var runtime = await EngineComposition.StartAsync(options, store, NullLoggerFactory.Instance, TimeProvider.System);
        await runtime.StartAsync(CancellationToken.None);
        using var reference = ReferenceLlama.Load(Directory);
        using var lora = ReferenceLora.Load(demo.AdapterDirectory(DemoModelKind.Phi4Mini, "qkv-gate-up-r8"));
        var longPrompt = ReferenceCases.Prompts(demo, DemoModelKind.Phi4Mini)[2];
        // Its first 48 tokens again, after it: a short prompt whose KV must not come from the long one's cached blocks.
        var shortPrompt = longPrompt[..48];

        foreach (var (prompt, adapter) in new (long[] Prompt, string? Adapter)[] { (longPrompt, "qkv-gate-up-r8"), (shortPrompt, "qkv-gate-up-r8"), (longPrompt, null), (shortPrompt, null) })
        {
            var (deltas, _) = await EngineFixture.Collect(runtime.Engine, EngineFixture.Greedy([.. prompt.Select(t => (int)t)], 5, adapter));

            Assert.Equal(reference.Greedy(prompt, adapter is null ? null : lora, 5).Tokens, EngineFixture.TokenIds(deltas).Select(t => (long)t));
        }
    }

    [Fact]
    public void Phi4MiniDemoAdapters_TargetTheFusedModules_AndTheTiedHead_AsPeftSavesThem()
    {
        using var model = ModelLoader.Load(Directory, ModelLoadOptions.Cpu);
        var spec = BaseModelSpecs.From(model);
        LoraAdapter Load(string name) => LoraAdapterLoader.Load(demo.AdapterDirectory(DemoModelKind.Phi4Mini, name), name, spec, TorchSharp.torch.ScalarType.Float32);

        using (var fused = Load("qkv-gate-up-r8"))
            Assert.Equal(["model.layers.0.mlp.gate_up_proj", "model.layers.0.self_attn.qkv_proj", "model.layers.1.mlp.gate_up_proj", "model.layers.1.self_attn.qkv_proj"],
                fused.Modules.Keys.Order(StringComparer.Ordinal));
        using (var allLinear = Load("all-linear-r4"))
            Assert.Equal(8, allLinear.Modules.Count);
        using var embedHead = Load("embed-head-r4");
        Assert.Contains("lm_head", embedHead.Modules.Keys);
        Assert.Contains("model.embed_tokens", embedHead.Modules.Keys);
    }

    [Theory]
    [InlineData("rope_scaling", """{"type": "longrope", "short_factor": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], "long_factor": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]}""",
        "rope_scaling short_factor and long_factor must have 6 entries (half the rotary dimension 12), got 8 and 8")]
    [InlineData("rope_scaling", """{"type": "longrope", "short_factor": "1.0", "long_factor": [1.0]}""", "rope_scaling short_factor must be a list of numbers for longrope, got \"1.0\"")]
    [InlineData("partial_rotary_factor", "1.5", "partial_rotary_factor 1.5 gives a rotary dimension of 24 for head_dim 16")]
    public void Phi4MiniConfig_WithRopeSettingsThatDoNotFit_IsRefusedByName(string key, string json, string expected)
    {
        using var scratch = new TemporaryDirectory();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Directory, "config.json")))!.AsObject();
        config[key] = JsonNode.Parse(json);
        var directory = scratch.File("phi4mini");
        System.IO.Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString());
        File.CreateSymbolicLink(Path.Combine(directory, "model.safetensors"), Path.Combine(Directory, "model.safetensors"));

        var error = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(directory, ModelLoadOptions.Cpu));

        Assert.Contains($"Phi3ForCausalLM: {expected}", error.Message);
    }
}
