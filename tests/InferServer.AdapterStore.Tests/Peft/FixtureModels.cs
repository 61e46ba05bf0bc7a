using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Tests.TestSupport;

namespace InferServer.AdapterStore.Tests.Peft;

/// <summary>BaseModelSpecs for the fixture models, written by hand from each base config.json.</summary>
internal static class FixtureModels
{
    /// <summary>
    /// llama-tiny: hidden 64, intermediate 128, 2 layers, 4 heads of 16, 2 KV heads (k/v project to 32), an untied lm_head
    /// 64 → vocab 1000.
    /// </summary>
    public static BaseModelSpec Llama { get; } = new("llama", WithHead(PerLayer(2, layer => new Dictionary<string, LinearModuleShape>
    {
        [$"model.layers.{layer}.self_attn.q_proj"] = new(64, 64),
        [$"model.layers.{layer}.self_attn.k_proj"] = new(64, 32),
        [$"model.layers.{layer}.self_attn.v_proj"] = new(64, 32),
        [$"model.layers.{layer}.self_attn.o_proj"] = new(64, 64),
        [$"model.layers.{layer}.mlp.gate_proj"] = new(64, 128),
        [$"model.layers.{layer}.mlp.up_proj"] = new(64, 128),
        [$"model.layers.{layer}.mlp.down_proj"] = new(128, 64),
    })), NumLayers: 2, HiddenSize: 64) { OutputHead = "lm_head" };

    /// <summary>gpt2-tiny: n_embd 64, inner 4·64, 2 layers; Conv1D shapes given as in → out; lm_head tied to wte (64 → 1000).</summary>
    public static BaseModelSpec Gpt2 { get; } = new("gpt2", WithHead(PerLayer(2, layer => new Dictionary<string, LinearModuleShape>
    {
        [$"transformer.h.{layer}.attn.c_attn"] = new(64, 192),
        [$"transformer.h.{layer}.attn.c_proj"] = new(64, 64),
        [$"transformer.h.{layer}.mlp.c_fc"] = new(64, 256),
        [$"transformer.h.{layer}.mlp.c_proj"] = new(256, 64),
    })), NumLayers: 2, HiddenSize: 64) { OutputHead = "lm_head" };

    /// <summary>bert-tiny-cls: hidden 64, intermediate 128, 2 layers, the pooler's dense 64 → 64, a 3-label classifier on the pooled output.</summary>
    public static BaseModelSpec Bert { get; } = new("bert", WithPooler(PerLayer(2, layer => new Dictionary<string, LinearModuleShape>
    {
        [$"bert.encoder.layer.{layer}.attention.self.query"] = new(64, 64),
        [$"bert.encoder.layer.{layer}.attention.self.key"] = new(64, 64),
        [$"bert.encoder.layer.{layer}.attention.self.value"] = new(64, 64),
        [$"bert.encoder.layer.{layer}.attention.output.dense"] = new(64, 64),
        [$"bert.encoder.layer.{layer}.intermediate.dense"] = new(64, 128),
        [$"bert.encoder.layer.{layer}.output.dense"] = new(128, 64),
    })), NumLayers: 2, HiddenSize: 64, Classifier: new ClassifierSpec(64));

    public static string AdapterDirectory(string model, string adapter) => RawSafetensors.Fixture("adapters", model, adapter);

    private static Dictionary<string, LinearModuleShape> WithHead(Dictionary<string, LinearModuleShape> modules)
    {
        modules["lm_head"] = new(64, 1000);
        return modules;
    }

    private static Dictionary<string, LinearModuleShape> WithPooler(Dictionary<string, LinearModuleShape> modules)
    {
        modules["bert.pooler.dense"] = new(64, 64);
        return modules;
    }

    private static Dictionary<string, LinearModuleShape> PerLayer(int layers, Func<int, Dictionary<string, LinearModuleShape>> modules) =>
        Enumerable.Range(0, layers).SelectMany(modules).ToDictionary(pair => pair.Key, pair => pair.Value);
}
