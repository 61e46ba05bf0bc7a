using System.Text.Json.Nodes;
using InferServer.AdapterStore.Peft;
using static TorchSharp.torch;

namespace InferServer.Demo;

/// <summary>
/// Everything that defines one demo model: its config.json, the tensors of model.safetensors, the linear modules an
/// adapter may target (what PEFT would see), the tokenizer it speaks and its adapters.
/// </summary>
/// <param name="Kind"></param>
/// <param name="Config"></param>
/// <param name="GenerationConfig">generation_config.json for causal LMs; null for classifiers.</param>
/// <param name="WeightDType">The dtype model.safetensors stores (config.json's torch_dtype).</param>
/// <param name="Tensors"></param>
/// <param name="AdaptableModules">Module path → in/out features, as y = x·Wᵀ sees it (Conv1D included).</param>
/// <param name="HiddenSize"></param>
/// <param name="WordPiece">True for the BERT WordPiece vocabulary, false for GPT-2's byte-level BPE.</param>
/// <param name="Adapters"></param>
internal sealed record DemoModelPlan(
    DemoModelKind Kind,
    JsonObject Config,
    JsonObject? GenerationConfig,
    ScalarType WeightDType,
    IReadOnlyList<DemoTensor> Tensors,
    IReadOnlyDictionary<string, LinearModuleShape> AdaptableModules,
    int HiddenSize,
    bool WordPiece,
    IReadOnlyList<DemoAdapter> Adapters)
{
    /// <summary>
    /// The modules of <see cref="AdaptableModules"/> that are embeddings (PEFT's lora.Embedding: lora_embedding_A [r, entries],
    /// lora_embedding_B [dimension, r]; in = entries, out = dimension), which all-linear leaves out.
    /// </summary>
    public IReadOnlySet<string> EmbeddingModules { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>The output head among <see cref="AdaptableModules"/> (lm_head), which all-linear leaves out; null when it is not adaptable here.</summary>
    public string? OutputHead { get; init; }

    /// <summary>The classification head a SEQ_CLS adapter brings (PEFT modules_to_save): BERT's classifier, a decoder's score.</summary>
    public string ClassifierModule { get; init; } = "classifier";

    /// <summary>Whether that head has a bias (BERT's classifier does, a decoder's score does not).</summary>
    public bool ClassifierHasBias { get; init; } = true;

    /// <summary>The Jinja chat_template written into tokenizer_config.json, or null for none.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>The plan of <paramref name="kind"/>.</summary>
    public static DemoModelPlan For(DemoModelKind kind) => kind switch
    {
        DemoModelKind.Llama => DemoLlamaFamily.Llama(),
        DemoModelKind.Qwen2 => DemoLlamaFamily.Qwen2(),
        DemoModelKind.Llama3 => DemoLlamaFamily.Llama3(),
        DemoModelKind.Qwen3 => DemoLlamaFamily.Qwen3(),
        DemoModelKind.Gpt2 => DemoGpt2.Plan(),
        DemoModelKind.Bert => DemoBert.Plan(),
        DemoModelKind.Gemma2 => DemoGemma.Gemma2(),
        DemoModelKind.Gemma3 => DemoGemma.Gemma3(),
        DemoModelKind.Phi3 => DemoPhi3.Phi3(),
        DemoModelKind.Phi4Mini => DemoPhi3.Phi4Mini(),
        DemoModelKind.LlamaClassifier => DemoLlamaFamily.LlamaClassifier(),
        DemoModelKind.Qwen3Classifier => DemoLlamaFamily.Qwen3Classifier(),
        DemoModelKind.LlamaLarge => DemoLlamaFamily.LlamaLarge(),
        DemoModelKind.MiniLm => DemoMiniLm.Plan(),
        DemoModelKind.LlamaMedium => DemoLlamaFamily.LlamaMedium(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a demo model kind"),
    };

    /// <summary>Every file a complete demo directory of this plan holds, relative to it.</summary>
    public IEnumerable<string> Files()
    {
        yield return "config.json";
        yield return "model.safetensors";
        if (GenerationConfig is not null)
        {
            yield return "generation_config.json";
        }

        string[] tokenizer = WordPiece ? ["vocab.txt", "tokenizer_config.json"] : ["vocab.json", "merges.txt", "tokenizer_config.json"];
        foreach (var file in tokenizer)
        {
            yield return file;
        }

        foreach (var adapter in Adapters)
        {
            yield return Path.Combine("adapters", adapter.Name, LoraAdapterLoader.ConfigFileName);
            yield return Path.Combine("adapters", adapter.Name, LoraAdapterLoader.WeightsFileName);
        }
    }
}
