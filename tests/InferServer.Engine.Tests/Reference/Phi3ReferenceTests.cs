using System.Text.Json.Nodes;
using InferServer.AdapterStore.Peft;
using InferServer.Demo;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Models.Loading;
using InferServer.Engine.Tests.Models;
using Xunit.Abstractions;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// The phi3 demo (fused qkv_proj and gate_up_proj) against <see cref="ReferenceLlama"/>'s transcription of modeling_phi3.py:
/// logits within 1e-4 and greedy tokens identical for the base and adapters on the fused modules (one B·A on the fused
/// output, as PEFT applies it), alone and mixed; adapters and configs PEFT or this server cannot apply are refused by name.
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class Phi3ReferenceTests(DemoModels demo, ITestOutputHelper output)
{
    private const double LogitTolerance = 1e-4;
    private static readonly string[] AdapterNames = ["qkv-o-r8", "all-linear-r4", "dora-r8", "embed-head-r4"];

    private string Directory => demo.Directory(DemoModelKind.Phi3);

    [Fact]
    public void MixedBatchOfEveryAdapterAndTheBase_MatchesTheReference_RowByRow()
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(Directory, ModelLoadOptions.Cpu);
        using var pooled = new PooledAdapters(model, [.. AdapterNames.Select(a => demo.AdapterDirectory(DemoModelKind.Phi3, a))]);
        using var harness = new CausalHarness(model, ReferenceCases.SlotsPerSequence);
        using var reference = ReferenceLlama.Load(Directory);
        var loras = AdapterNames.Select(a => ReferenceLora.Load(demo.AdapterDirectory(DemoModelKind.Phi3, a))).ToArray();
        try
        {
            var prompts = ReferenceCases.Prompts(demo, DemoModelKind.Phi3);
            int[] slots = [0, 1, 2, 3, 4, 2, 0, 4];
            long[][] rows = [.. slots.Select((_, i) => prompts[i % prompts.Length])];
            var logits = harness.LastLogits(rows, slots);
            var greedy = harness.Greedy(rows, slots, 5);
            var worst = 0.0;
            for (var i = 0; i < rows.Length; i++)
            {
                var lora = slots[i] == 0 ? null : loras[slots[i] - 1];
                var expected = reference.LastLogits(rows[i], lora);
                var difference = TensorAssert.MaxDifference(expected, logits[i]);
                Assert.True(difference <= LogitTolerance, $"row {i} (slot {slots[i]}): {difference:E3}");
                worst = Math.Max(worst, difference);
                Assert.Equal(reference.Greedy(rows[i], lora, 5).Tokens, greedy[i]);
                Assert.Equal(greedy[i], harness.Greedy([rows[i]], [slots[i]], 5)[0]);
                if (lora is not null)
                    Assert.True(TensorAssert.MaxDifference(reference.LastLogits(rows[i]), Array.ConvertAll(expected, e => (float)e)) > 10 * LogitTolerance);
            }
            output.WriteLine($"phi3 mixed batch: max |float32 - float64 reference| = {worst:E3}");
        }
        finally
        {
            foreach (var lora in loras)
                lora.Dispose();
        }
    }

    [Fact]
    public void AnAdapterNamingSplitProjections_IsRefused_AsPeftFindsNoSuchModuleInPhi3()
    {
        using var model = ModelLoader.Load(Directory, ModelLoadOptions.Cpu);
        using var scratch = new TemporaryDirectory();
        var adapter = scratch.File("q-v");
        System.IO.Directory.CreateDirectory(adapter);
        var source = demo.AdapterDirectory(DemoModelKind.Phi3, "qkv-o-r8");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "adapter_config.json")))!.AsObject();
        config["target_modules"] = new JsonArray("q_proj", "v_proj");
        File.WriteAllText(Path.Combine(adapter, "adapter_config.json"), config.ToJsonString());
        File.Copy(Path.Combine(source, "adapter_model.safetensors"), Path.Combine(adapter, "adapter_model.safetensors"));

        var error = Assert.ThrowsAny<Exception>(() => LoraAdapterLoader.Load(adapter, "q-v", BaseModelSpecs.From(model), TorchSharp.torch.ScalarType.Float32));

        Assert.Contains("target_modules [q_proj, v_proj] match no module of base model 'phi3'", error.Message);
        output.WriteLine(error.Message);
    }

    [Theory]
    [InlineData("rope_scaling", """{"type": "longrope", "short_factor": [1.0], "long_factor": [1.0]}""", "rope_scaling short_factor and long_factor must have 4 entries")]
    [InlineData("rope_scaling", """{"type": "su", "short_factor": [1.0, 1.0, 1.0, 1.0]}""", "rope_scaling long_factor must be a list of numbers for longrope, got none")]
    [InlineData("rope_scaling", """{"type": "yarn", "factor": 4.0}""", "rope_scaling type 'yarn' is not implemented for phi3")]
    [InlineData("rope_scaling", """{"rope_type": "linear", "factor": 4.0}""", "rope_scaling type 'linear' is not implemented for phi3")]
    [InlineData("partial_rotary_factor", "0.375", "partial_rotary_factor 0.375 gives a rotary dimension of 3")]
    [InlineData("num_local_experts", "16", "num_local_experts 16")]
    public void Phi3ConfigSetting_NotImplemented_IsRefusedByName(string key, string json, string expected)
    {
        using var scratch = new TemporaryDirectory();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Directory, "config.json")))!.AsObject();
        config[key] = JsonNode.Parse(json);
        var directory = scratch.File("phi3");
        System.IO.Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString());
        File.CreateSymbolicLink(Path.Combine(directory, "model.safetensors"), Path.Combine(Directory, "model.safetensors"));

        var error = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(directory, ModelLoadOptions.Cpu));

        Assert.Contains($"Phi3ForCausalLM: {expected}", error.Message);
    }
}
