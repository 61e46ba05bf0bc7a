using System.Text.Json.Nodes;
using InferServer.AdapterStore.Peft;
using static TorchSharp.torch;

namespace InferServer.Demo;

/// <summary>
/// Phi3ForCausalLM speaking GPT-2 BPE: fused qkv_proj and gate_up_proj, grouped-query attention (as Phi-3-medium and
/// Phi-4-mini have it), untied head, sliding_window 2047 as Phi-3-mini-4k's config has it. Its adapters target the fused
/// modules the way PEFT sees them (qkv_proj, gate_up_proj; all-linear; DoRA; the embedding and lm_head).
/// </summary>
internal static class DemoPhi3
{
    private const int Hidden = 32;
    private const int Intermediate = 64;
    private const int Layers = 2;
    private const int Heads = 4;
    private const int KvHeads = 2;
    private const int HeadDim = Hidden / Heads;

    public static DemoModelPlan Plan()
    {
        long vocabulary = DemoTokenizerFiles.Gpt2VocabularySize;
        var config = new JsonObject
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
            ["num_attention_heads"] = Heads,
            ["num_hidden_layers"] = Layers,
            ["num_key_value_heads"] = KvHeads,
            ["original_max_position_embeddings"] = 512,
            ["resid_pdrop"] = 0.0,
            ["rms_norm_eps"] = 1e-5,
            ["rope_scaling"] = null,
            ["rope_theta"] = 10000.0,
            ["sliding_window"] = 2047,
            ["tie_word_embeddings"] = false,
            ["torch_dtype"] = "bfloat16",
            ["transformers_version"] = "4.51.0",
            ["use_cache"] = true,
            ["vocab_size"] = DemoTokenizerFiles.Gpt2VocabularySize,
        };
        var tensors = new List<DemoTensor> { DemoTensor.Weight("model.embed_tokens.weight", vocabulary, Hidden) };
        var modules = new Dictionary<string, LinearModuleShape>(StringComparer.Ordinal);
        for (var layer = 0; layer < Layers; layer++)
        {
            var prefix = $"model.layers.{layer}";
            tensors.Add(DemoTensor.NormScale($"{prefix}.input_layernorm.weight", Hidden));
            tensors.Add(DemoTensor.NormScale($"{prefix}.post_attention_layernorm.weight", Hidden));
            // Query and key rows of qkv_proj drawn like the other demos' q/k projections; the fused tensor is drawn at once.
            var qkvOut = (Heads + 2 * KvHeads) * HeadDim;
            tensors.Add(DemoTensor.QueryKey($"{prefix}.self_attn.qkv_proj.weight", qkvOut, Hidden));
            tensors.Add(DemoTensor.Weight($"{prefix}.self_attn.o_proj.weight", Hidden, Heads * HeadDim));
            tensors.Add(DemoTensor.Weight($"{prefix}.mlp.gate_up_proj.weight", 2 * Intermediate, Hidden));
            tensors.Add(DemoTensor.Weight($"{prefix}.mlp.down_proj.weight", Hidden, Intermediate));
            modules.Add($"{prefix}.self_attn.qkv_proj", new LinearModuleShape(Hidden, qkvOut));
            modules.Add($"{prefix}.self_attn.o_proj", new LinearModuleShape(Heads * HeadDim, Hidden));
            modules.Add($"{prefix}.mlp.gate_up_proj", new LinearModuleShape(Hidden, 2 * Intermediate));
            modules.Add($"{prefix}.mlp.down_proj", new LinearModuleShape(Intermediate, Hidden));
        }
        tensors.Add(DemoTensor.NormScale("model.norm.weight", Hidden));
        tensors.Add(DemoTensor.Weight("lm_head.weight", vocabulary, Hidden));
        modules.Add("model.embed_tokens", new LinearModuleShape((int)vocabulary, Hidden));
        modules.Add("lm_head", new LinearModuleShape(Hidden, (int)vocabulary));
        DemoAdapter[] adapters =
        [
            new("qkv-o-r8", Rank: 8, Alpha: 16) { TargetNames = ["qkv_proj", "o_proj"] },
            new("all-linear-r4", Rank: 4, Alpha: 8) { TargetRegex = "all-linear" },
            new("dora-r8", Rank: 8, Alpha: 16) { TargetNames = ["qkv_proj", "gate_up_proj"], UseDora = true },
            new("embed-head-r4", Rank: 4, Alpha: 8) { TargetNames = ["embed_tokens", "qkv_proj", "lm_head"] },
        ];
        return new DemoModelPlan(DemoModelKind.Phi3, config, DemoGenerationConfig.ForGpt2Tokens(), ScalarType.BFloat16, tensors, modules, Hidden,
            WordPiece: false, adapters)
        {
            EmbeddingModules = new HashSet<string>(["model.embed_tokens"], StringComparer.Ordinal),
            OutputHead = "lm_head",
        };
    }
}
