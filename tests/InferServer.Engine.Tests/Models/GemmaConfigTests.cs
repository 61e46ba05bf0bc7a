using System.Text.Json.Nodes;
using InferServer.Demo;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Models.Gemma;
using InferServer.Engine.Models.Loading;

namespace InferServer.Engine.Tests.Models;

/// <summary>
/// Gemma 2/3 configs: the families' defaults where keys are missing, and every value the implementation does not honour
/// refused at load, naming the key and the value.
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class GemmaConfigTests(DemoModels demo)
{
    [Fact]
    public void MissingKeys_TakeEachFamilysDefaults()
    {
        var gemma2 = GemmaConfig.Parse("""{"model_type": "gemma2", "num_hidden_layers": 4}""");
        var gemma3 = GemmaConfig.Parse("""{"model_type": "gemma3_text", "num_hidden_layers": 12}""");
        var nulls = GemmaConfig.Parse("""{"model_type": "gemma2", "attn_logit_softcapping": null, "final_logit_softcapping": null}""");

        Assert.Equal((50.0, 30.0, 10000.0), (gemma2.AttentionSoftCap, gemma2.FinalSoftCap, gemma2.GlobalRopeTheta));
        Assert.Equal((null, null, 1_000_000.0), (gemma3.AttentionSoftCap, gemma3.FinalSoftCap, gemma3.GlobalRopeTheta));
        Assert.Equal((null, null), (nulls.AttentionSoftCap, nulls.FinalSoftCap));
        // Gemma 2: even layers slide; Gemma 3: every sixth layer is full.
        Assert.Equal([true, false, true, false], Enumerable.Range(0, 4).Select(gemma2.IsSliding));
        Assert.Equal([true, true, true, true, true, false, true, true, true, true, true, false], Enumerable.Range(0, 12).Select(gemma3.IsSliding));
    }

    [Theory]
    [InlineData(DemoModelKind.Gemma2, "rope_scaling", """{"rope_type": "yarn", "factor": 4.0}""", "rope_scaling type 'yarn'")]
    [InlineData(DemoModelKind.Gemma3, "rope_scaling", """{"rope_type": "dynamic", "factor": 4.0}""", "rope_scaling type 'dynamic'")]
    [InlineData(DemoModelKind.Gemma3, "layer_types", """["sliding_attention", "chunked_attention", "sliding_attention", "full_attention"]""", "layer_types entry 'chunked_attention'")]
    [InlineData(DemoModelKind.Gemma3, "use_bidirectional_attention", "true", "use_bidirectional_attention true")]
    [InlineData(DemoModelKind.Gemma2, "hidden_activation", "\"silu\"", "hidden_activation 'silu'")]
    [InlineData(DemoModelKind.Gemma2, "rope_parameters", """{"rope_type": "default", "rope_theta": 10000}""", "rope_parameters")]
    [InlineData(DemoModelKind.Gemma3, "model_type", "\"gemma3\"", "model_type 'gemma3' does not match the architecture (expected 'gemma3_text'")]
    public void GemmaConfigSetting_NotImplemented_IsRefusedByName(DemoModelKind kind, string key, string json, string expected)
    {
        using var scratch = new TemporaryDirectory();
        var source = demo.Directory(kind);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        config[key] = JsonNode.Parse(json);
        var directory = scratch.File("gemma");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString());
        File.CreateSymbolicLink(Path.Combine(directory, "model.safetensors"), Path.Combine(source, "model.safetensors"));

        var error = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(directory, ModelLoadOptions.Cpu));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Gemma3Demo_LoadsWithQueryKeyNormsAndEveryNormAroundTheBlocks()
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(demo.Directory(DemoModelKind.Gemma3), ModelLoadOptions.Cpu);

        var parameters = ((TorchSharp.torch.nn.Module)model).named_parameters().Select(p => p.name).ToHashSet();
        foreach (var name in new[] { "q_norm", "k_norm" })
            Assert.Contains($"model.layers.3.self_attn.{name}.weight", parameters);
        foreach (var name in new[] { "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm" })
            Assert.Contains($"model.layers.0.{name}.weight", parameters);
        // The cache keeps every position: the full layers need them; only the sliding layers' masks narrow the view.
        Assert.Null(model.Shape.SlidingWindow);
    }
}
