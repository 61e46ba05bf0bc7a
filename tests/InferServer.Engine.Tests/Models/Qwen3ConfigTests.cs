using System.Text.Json.Nodes;
using InferServer.Demo;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Models.Loading;
using InferServer.Engine.Tests;

namespace InferServer.Engine.Tests.Models;

/// <summary>
/// Qwen3ForCausalLM configs: what a real Qwen3 config carries loads, and every key whose value the implementation does not
/// honour is refused at load, naming the key and the value, before any weight is read.
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class Qwen3ConfigTests(DemoModels demo)
{
    [Fact]
    public void Qwen3Demo_LoadsWithQueryKeyNormsAndAHeadDimIndependentOfHiddenSize()
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(demo.Directory(DemoModelKind.Qwen3), ModelLoadOptions.Cpu);

        Assert.Equal("qwen3", model.ModelType);
        Assert.Equal(16, model.Shape.HeadDimension);
        Assert.Null(model.Shape.SlidingWindow);
        var parameters = ((TorchSharp.torch.nn.Module)model).named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal([16L], parameters["model.layers.1.self_attn.q_norm.weight"]);
        Assert.Equal([16L], parameters["model.layers.1.self_attn.k_norm.weight"]);
        Assert.Equal([64L, 32L], parameters["model.layers.0.self_attn.q_proj.weight"]);
        Assert.DoesNotContain(parameters.Keys, name => name.EndsWith(".bias", StringComparison.Ordinal));
        // q_norm and k_norm are not Linear: PEFT never wraps them, so adapters cannot name them.
        Assert.DoesNotContain(model.AdaptableModules.Keys, name => name.Contains("_norm", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("use_sliding_window", "true", "use_sliding_window true")]
    [InlineData("layer_types", """["full_attention", "sliding_attention"]""", "layer_types entry 'sliding_attention'")]
    [InlineData("rope_scaling", """{"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}""", "rope_scaling type 'yarn'")]
    [InlineData("rope_parameters", """{"rope_type": "default", "rope_theta": 1000000}""", "rope_parameters")]
    [InlineData("hidden_act", "\"gelu\"", "hidden_act 'gelu'")]
    [InlineData("partial_rotary_factor", "0.5", "partial_rotary_factor 0.5 is not implemented for qwen3 (1.0 is; phi3 honours it)")]
    [InlineData("model_type", "\"qwen2\"", "model_type 'qwen2' does not match the architecture (expected 'qwen3')")]
    public void Qwen3ConfigSetting_NotImplemented_IsRefusedByName(string key, string json, string expected)
    {
        using var scratch = new TemporaryDirectory();
        var directory = WithConfig(scratch, config => config[key] = JsonNode.Parse(json));

        var error = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(directory, ModelLoadOptions.Cpu));

        Assert.Contains($"Qwen3ForCausalLM: {expected}", error.Message);
    }

    [Fact]
    public void Qwen3Config_WithItsUsualWindowKeysOffAndAttentionBiasOn_NamesTheMissingBiases()
    {
        using var scratch = new TemporaryDirectory();
        // Present but off, as Qwen3's configs have them: accepted. attention_bias true is honoured: q/k/v/o biases are expected.
        var directory = WithConfig(scratch, config =>
        {
            config["sliding_window"] = 4096;
            config["use_sliding_window"] = false;
            config["layer_types"] = new JsonArray("full_attention", "full_attention");
            config["attention_bias"] = true;
        });

        var error = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(directory, ModelLoadOptions.Cpu));

        Assert.DoesNotContain("Qwen3ForCausalLM:", error.Message);
        foreach (var projection in new[] { "q_proj", "k_proj", "v_proj", "o_proj" })
            Assert.Contains($"parameter 'model.layers.0.self_attn.{projection}.bias' is missing", error.Message);
        Assert.DoesNotContain("mlp.gate_proj.bias", error.Message);
    }

    [Fact]
    public void Qwen3Config_WithoutHeadDim_UsesQwen3ConfigsDefaultOf128()
    {
        using var scratch = new TemporaryDirectory();
        var directory = WithConfig(scratch, config => config.Remove("head_dim"));

        var error = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(directory, ModelLoadOptions.Cpu));

        Assert.Contains("parameter 'model.layers.0.self_attn.q_norm.weight' needs [128]", error.Message);
    }

    // The qwen3 demo with its config changed; the weights are linked, not copied.
    private string WithConfig(TemporaryDirectory scratch, Action<JsonObject> change)
    {
        var source = demo.Directory(DemoModelKind.Qwen3);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        change(config);
        var directory = scratch.File("qwen3");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString());
        File.CreateSymbolicLink(Path.Combine(directory, "model.safetensors"), Path.Combine(source, "model.safetensors"));
        return directory;
    }
}
