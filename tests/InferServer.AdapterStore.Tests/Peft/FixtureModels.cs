using InferServer.AdapterStore.Peft;

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
    }), Embedding("model.embed_tokens", 1000)), NumLayers: 2, HiddenSize: 64)
    { OutputHead = "lm_head", Embeddings = new HashSet<string> { "model.embed_tokens" } };

    /// <summary>gpt2-tiny: n_embd 64, inner 4·64, 2 layers; Conv1D shapes given as in → out; lm_head tied to wte (64 → 1000).</summary>
    public static BaseModelSpec Gpt2 { get; } = new("gpt2", WithHead(PerLayer(2, layer => new Dictionary<string, LinearModuleShape>
    {
        [$"transformer.h.{layer}.attn.c_attn"] = new(64, 192),
        [$"transformer.h.{layer}.attn.c_proj"] = new(64, 64),
        [$"transformer.h.{layer}.mlp.c_fc"] = new(64, 256),
        [$"transformer.h.{layer}.mlp.c_proj"] = new(256, 64),
    }), Embedding("transformer.wte", 1000), Embedding("transformer.wpe", 128)), NumLayers: 2, HiddenSize: 64)
    {
        OutputHead = "lm_head",
        Embeddings = new HashSet<string> { "transformer.wte", "transformer.wpe" },
    };

    /// <summary>bert-tiny-cls: hidden 64, intermediate 128, 2 layers, the pooler's dense 64 → 64, a 3-label classifier on the pooled output.</summary>
    public static BaseModelSpec Bert { get; } = new("bert", WithPooler(PerLayer(2, layer => new Dictionary<string, LinearModuleShape>
    {
        [$"bert.encoder.layer.{layer}.attention.self.query"] = new(64, 64),
        [$"bert.encoder.layer.{layer}.attention.self.key"] = new(64, 64),
        [$"bert.encoder.layer.{layer}.attention.self.value"] = new(64, 64),
        [$"bert.encoder.layer.{layer}.attention.output.dense"] = new(64, 64),
        [$"bert.encoder.layer.{layer}.intermediate.dense"] = new(64, 128),
        [$"bert.encoder.layer.{layer}.output.dense"] = new(128, 64),
    }), Embedding("bert.embeddings.word_embeddings", 1000), Embedding("bert.embeddings.position_embeddings", 128),
        Embedding("bert.embeddings.token_type_embeddings", 2)), NumLayers: 2, HiddenSize: 64, Classifier: new ClassifierSpec(64))
    {
        Embeddings = new HashSet<string> { "bert.embeddings.word_embeddings", "bert.embeddings.position_embeddings", "bert.embeddings.token_type_embeddings" },
    };

    public static string AdapterDirectory(string model, string adapter) => ReferenceFixtures.AdapterDirectory(model, adapter);

    private static Dictionary<string, LinearModuleShape> WithHead(Dictionary<string, LinearModuleShape> modules, params (string Name, LinearModuleShape Shape)[] embeddings)
    {
        modules["lm_head"] = new(64, 1000);
        return WithEmbeddings(modules, embeddings);
    }

    private static Dictionary<string, LinearModuleShape> WithPooler(Dictionary<string, LinearModuleShape> modules, params (string Name, LinearModuleShape Shape)[] embeddings)
    {
        modules["bert.pooler.dense"] = new(64, 64);
        return WithEmbeddings(modules, embeddings);
    }

    /// <summary>An embedding table as a layer on one-hot inputs: in = entries, out = hidden 64.</summary>
    private static (string Name, LinearModuleShape Shape) Embedding(string name, int entries) => (name, new(entries, 64));

    private static Dictionary<string, LinearModuleShape> WithEmbeddings(Dictionary<string, LinearModuleShape> modules, (string Name, LinearModuleShape Shape)[] embeddings)
    {
        foreach (var (name, shape) in embeddings)
        {
            modules[name] = shape;
        }

        return modules;
    }

    private static Dictionary<string, LinearModuleShape> PerLayer(int layers, Func<int, Dictionary<string, LinearModuleShape>> modules) =>
        Enumerable.Range(0, layers).SelectMany(modules).ToDictionary(pair => pair.Key, pair => pair.Value);
}
