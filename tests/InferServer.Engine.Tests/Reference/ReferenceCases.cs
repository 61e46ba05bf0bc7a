using InferServer.Demo;
using InferServer.Engine.Tokenization;

namespace InferServer.Engine.Tests.Reference;

/// <summary>The demo models and adapters the reference tests cover, and the prompts they run.</summary>
public static class ReferenceCases
{
    /// <summary>
    /// Each Llama-family demo with no adapter and with each adapter exercising a PEFT rule the HF fixtures lack:
    /// Qwen2 biases and tied head, Qwen3 q/k norms with all-linear, DoRA and embedding/lm_head adapters, llama3 rope scaling, rank_pattern/alpha_pattern, layers_to_transform, regex targets, rsLoRA.
    /// </summary>
    public static TheoryData<DemoModelKind, string?> ModelsAndAdapters => new()
    {
        { DemoModelKind.Qwen2, null },
        { DemoModelKind.Qwen2, "chat-r8" },
        { DemoModelKind.Qwen3, null },
        { DemoModelKind.Qwen3, "chat-r8" },
        { DemoModelKind.Qwen3, "all-linear-r4" },
        { DemoModelKind.Qwen3, "dora-r8" },
        { DemoModelKind.Qwen3, "embed-head-r4" },
        { DemoModelKind.Llama3, null },
        { DemoModelKind.Llama3, "all-r8" },
        { DemoModelKind.Llama, null },
        { DemoModelKind.Llama, "chat-r8" },
        { DemoModelKind.Llama, "sql-r16" },
        { DemoModelKind.Llama, "summarize-r4-rslora" },
        { DemoModelKind.Llama, "support-rank-pattern" },
        { DemoModelKind.Llama, "layer1-only" },
        { DemoModelKind.Llama, "regex-targets" },
    };

    /// <summary>Every llama demo adapter, for mixed batches.</summary>
    public static readonly string[] LlamaAdapters =
        ["chat-r8", "sql-r16", "summarize-r4-rslora", "support-rank-pattern", "layer1-only", "regex-targets"];

    /// <summary>Every qwen3 demo adapter (LoRA, all-linear LoRA, DoRA, LoRA on embed_tokens and lm_head), for mixed batches.</summary>
    public static readonly string[] Qwen3Adapters = ["chat-r8", "all-linear-r4", "dora-r8", "embed-head-r4"];

    /// <summary>KV slots per sequence in the harness: room for the long prompt plus its continuation.</summary>
    public const int SlotsPerSequence = 160;

    /// <summary>
    /// Short prompts and one of about 100 tokens, past the llama3 demo's original context of 64, where rope_scaling's
    /// slowed low frequencies matter most.
    /// </summary>
    public static long[][] Prompts(DemoModels demo, DemoModelKind kind)
    {
        var tokenizer = TokenizerLoader.Load(demo.Directory(kind));
        string[] texts =
        [
            "Once upon a time",
            "SELECT name FROM users WHERE id =",
            string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 10)),
        ];
        return [.. texts.Select(text => tokenizer.Encode(text, addSpecialTokens: false).Select(id => (long)id).ToArray())];
    }
}
