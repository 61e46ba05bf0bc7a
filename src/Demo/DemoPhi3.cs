using System.Text.Json.Nodes;
using InferServer.AdapterStore.Peft;
using static TorchSharp.torch;

namespace InferServer.Demo;

/// <summary>
/// The Phi3ForCausalLM demos speaking GPT-2 BPE: fused qkv_proj and gate_up_proj and grouped-query attention.
/// phi3: untied head, sliding_window 2047 as Phi-3-mini-4k's config has it, plain RoPE. phi4mini: Phi-4-mini's switches,
/// partial_rotary_factor 0.75, longrope rope_scaling and a head tied to the embeddings, with an original context of 64
/// (short prompts use the short factors, the long reference prompt the long ones). Their adapters target the fused
/// modules the way PEFT sees them (qkv_proj, gate_up_proj; all-linear; DoRA; the embedding and lm_head).
/// </summary>
internal static class DemoPhi3
{
    private const int Hidden = 32;
    private const int Intermediate = 64;
    private const int Layers = 2;

    /// <summary>Phi-3-mini-4k's layout: 4 heads of 8 over 2 KV heads, untied head, no rope_scaling.</summary>
    public static DemoModelPlan Phi3()
    {
        var config = Config(heads: 4, kvHeads: 2, tied: false);
        config["original_max_position_embeddings"] = 512;
        config["rope_scaling"] = null;
        config["sliding_window"] = 2047;
        DemoAdapter[] adapters =
        [
            new("qkv-o-r8", Rank: 8, Alpha: 16) { TargetNames = ["qkv_proj", "o_proj"] },
            new("all-linear-r4", Rank: 4, Alpha: 8) { TargetRegex = "all-linear" },
            new("dora-r8", Rank: 8, Alpha: 16) { TargetNames = ["qkv_proj", "gate_up_proj"], UseDora = true },
            new("embed-head-r4", Rank: 4, Alpha: 8) { TargetNames = ["embed_tokens", "qkv_proj", "lm_head"] },
        ];
        return Plan(DemoModelKind.Phi3, config, heads: 4, kvHeads: 2, tied: false, adapters);
    }

    /// <summary>
    /// Phi-4-mini's switches on a small model: 2 heads of 16 over 1 KV head, RoPE on the first 12 dimensions of each head
    /// (partial_rotary_factor 0.75), longrope with 6 short and 6 long factors (max 512 over an original 64: attention
    /// factor √1.5), tied embeddings, pad = eos.
    /// </summary>
    public static DemoModelPlan Phi4Mini()
    {
        const int heads = 2;
        const int kvHeads = 1;
        var config = Config(heads, kvHeads, tied: true);
        var frequencies = (int)(Hidden / heads * 0.75) / 2;
        // Real factors grow with the dimension index (slower low frequencies); these are far from 1 so that a table built
        // with the wrong factors, or the short one where the long one belongs, changes the outputs.
        config["rope_scaling"] = new JsonObject
        {
            ["long_factor"] = new JsonArray([.. Enumerable.Range(0, frequencies).Select(i => (JsonNode)(1.0 + 1.5 * i))]),
            ["short_factor"] = new JsonArray([.. Enumerable.Range(0, frequencies).Select(i => (JsonNode)(1.0 + 0.25 * i))]),
            ["type"] = "longrope",
        };
        config["original_max_position_embeddings"] = 64;
        config["partial_rotary_factor"] = 0.75;
        config["pad_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId;
        config["sliding_window"] = 262144;
        DemoAdapter[] adapters =
        [
            new("qkv-gate-up-r8", Rank: 8, Alpha: 16) { TargetNames = ["qkv_proj", "gate_up_proj"] },
            new("all-linear-r4", Rank: 4, Alpha: 8) { TargetRegex = "all-linear" },
            new("dora-r8", Rank: 8, Alpha: 16) { TargetNames = ["qkv_proj", "o_proj", "down_proj"], UseDora = true },
            new("embed-head-r4", Rank: 4, Alpha: 8) { TargetNames = ["embed_tokens", "gate_up_proj", "lm_head"] },
        ];
        return Plan(DemoModelKind.Phi4Mini, config, heads, kvHeads, tied: true, adapters);
    }

    private static JsonObject Config(int heads, int kvHeads, bool tied) => new()
    {
        ["architectures"] = new JsonArray("Phi3ForCausalLM"),
        ["attention_bias"] = false,
        ["attention_dropout"] = 0.0,
        ["bos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
        ["embd_pdrop"] = 0.0,
        ["eos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
        ["hidden_act"] = "silu",
        ["hidden_size"] = Hidden,
        ["initializer_range"] = 0.02,
        ["intermediate_size"] = Intermediate,
        ["max_position_embeddings"] = 512,
        ["model_type"] = "phi3",
        ["num_attention_heads"] = heads,
        ["num_hidden_layers"] = Layers,
        ["num_key_value_heads"] = kvHeads,
        ["resid_pdrop"] = 0.0,
        ["rms_norm_eps"] = 1e-5,
        ["rope_theta"] = 10000.0,
        ["tie_word_embeddings"] = tied,
        ["torch_dtype"] = "bfloat16",
        ["transformers_version"] = "4.51.0",
        ["use_cache"] = true,
        ["vocab_size"] = DemoTokenizerFiles.Gpt2VocabularySize,
    };

    private static DemoModelPlan Plan(DemoModelKind kind, JsonObject config, int heads, int kvHeads, bool tied, DemoAdapter[] adapters)
    {
        long vocabulary = DemoTokenizerFiles.Gpt2VocabularySize;
        var headDim = Hidden / heads;
        var tensors = new List<DemoTensor> { DemoTensor.Weight("model.embed_tokens.weight", vocabulary, Hidden) };
        var modules = new Dictionary<string, LinearModuleShape>(StringComparer.Ordinal);
        for (var layer = 0; layer < Layers; layer++)
        {
            var prefix = $"model.layers.{layer}";
            tensors.Add(DemoTensor.NormScale($"{prefix}.input_layernorm.weight", Hidden));
            tensors.Add(DemoTensor.NormScale($"{prefix}.post_attention_layernorm.weight", Hidden));
            // Query and key rows of qkv_proj drawn like the other demos' q/k projections; the fused tensor is drawn at once.
            var qkvOut = (heads + 2 * kvHeads) * headDim;
            tensors.Add(DemoTensor.QueryKey($"{prefix}.self_attn.qkv_proj.weight", qkvOut, Hidden));
            tensors.Add(DemoTensor.Weight($"{prefix}.self_attn.o_proj.weight", Hidden, heads * headDim));
            tensors.Add(DemoTensor.Weight($"{prefix}.mlp.gate_up_proj.weight", 2 * Intermediate, Hidden));
            tensors.Add(DemoTensor.Weight($"{prefix}.mlp.down_proj.weight", Hidden, Intermediate));
            modules.Add($"{prefix}.self_attn.qkv_proj", new LinearModuleShape(Hidden, qkvOut));
            modules.Add($"{prefix}.self_attn.o_proj", new LinearModuleShape(heads * headDim, Hidden));
            modules.Add($"{prefix}.mlp.gate_up_proj", new LinearModuleShape(Hidden, 2 * Intermediate));
            modules.Add($"{prefix}.mlp.down_proj", new LinearModuleShape(Intermediate, Hidden));
        }
        tensors.Add(DemoTensor.NormScale("model.norm.weight", Hidden));
        if (!tied)
        {
            tensors.Add(DemoTensor.Weight("lm_head.weight", vocabulary, Hidden));
        }

        modules.Add("model.embed_tokens", new LinearModuleShape((int)vocabulary, Hidden));
        modules.Add("lm_head", new LinearModuleShape(Hidden, (int)vocabulary));
        return new DemoModelPlan(kind, config, DemoGenerationConfig.ForGpt2Tokens(), ScalarType.BFloat16, tensors, modules, Hidden,
            WordPiece: false, adapters)
        {
            EmbeddingModules = new HashSet<string>(["model.embed_tokens"], StringComparer.Ordinal),
            OutputHead = "lm_head",
        };
    }
}
