using System.Text.Json.Nodes;
using InferServer.AdapterStore.Peft;
using static TorchSharp.torch;

namespace InferServer.Demo;

/// <summary>
/// The Gemma demos (Gemma2ForCausalLM, Gemma3ForCausalLM text-only) speaking GPT-2 BPE: 4 layers alternating sliding and
/// full attention with a window of 6 tokens (shorter than most test prompts), head_dim 16 with 4 heads on hidden 32, and
/// query_pre_attn_scalar 24 ≠ head_dim. Gemma 2's soft-caps are far below the real 50 and 30 so that they visibly change
/// these tiny models' outputs (real scores and logits reach the caps; these would not); Gemma 3 has q/k norms, RoPE base
/// 10,000 on sliding layers and 1,000,000 with linear scaling on full ones. Norm weights are offsets from 1 ((1 + w) norms).
/// </summary>
internal static class DemoGemma
{
    private const int Hidden = 32;
    private const int Intermediate = 64;
    private const int Layers = 4;
    private const int Heads = 4;
    private const int KvHeads = 2;
    private const int HeadDim = 16;

    /// <summary>Gemma 2: soft-capped attention (2.0) and final logits (2.0), Gemma 2's chat template.</summary>
    public static DemoModelPlan Gemma2()
    {
        var config = Config("Gemma2ForCausalLM", "gemma2");
        config["attn_logit_softcapping"] = 2.0;
        config["final_logit_softcapping"] = 2.0;
        config["rope_theta"] = 10000.0;
        config["cache_implementation"] = "hybrid";
        return Plan(DemoModelKind.Gemma2, config, queryKeyNorm: false) with { ChatTemplate = DemoChatTemplates.Gemma2 };
    }

    /// <summary>Gemma 3 (gemma3_text): q/k norms, local and global RoPE bases, sliding_window_pattern 2, no soft-caps, Gemma 3's chat template.</summary>
    public static DemoModelPlan Gemma3()
    {
        var config = Config("Gemma3ForCausalLM", "gemma3_text");
        config["attn_logit_softcapping"] = null;
        config["final_logit_softcapping"] = null;
        config["rope_theta"] = 1000000.0;
        config["rope_local_base_freq"] = 10000.0;
        config["rope_scaling"] = new JsonObject { ["factor"] = 4.0, ["rope_type"] = "linear" };
        config["sliding_window_pattern"] = 2;
        return Plan(DemoModelKind.Gemma3, config, queryKeyNorm: true) with { ChatTemplate = DemoChatTemplates.Gemma3 };
    }

    private static JsonObject Config(string architecture, string modelType) => new()
    {
        ["architectures"] = new JsonArray(architecture),
        ["attention_bias"] = false,
        ["attention_dropout"] = 0.0,
        ["bos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
        ["eos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
        ["head_dim"] = HeadDim,
        ["hidden_act"] = "gelu_pytorch_tanh",
        ["hidden_activation"] = "gelu_pytorch_tanh",
        ["hidden_size"] = Hidden,
        ["initializer_range"] = 0.02,
        ["intermediate_size"] = Intermediate,
        ["max_position_embeddings"] = 512,
        ["model_type"] = modelType,
        ["num_attention_heads"] = Heads,
        ["num_hidden_layers"] = Layers,
        ["num_key_value_heads"] = KvHeads,
        ["pad_token_id"] = 0,
        ["query_pre_attn_scalar"] = 24,
        ["rms_norm_eps"] = 1e-6,
        ["sliding_window"] = 6,
        ["tie_word_embeddings"] = true,
        ["torch_dtype"] = "bfloat16",
        ["transformers_version"] = "4.51.0",
        ["use_cache"] = true,
        ["vocab_size"] = DemoTokenizerFiles.Gpt2VocabularySize,
    };

    private static DemoModelPlan Plan(DemoModelKind kind, JsonObject config, bool queryKeyNorm)
    {
        long vocabulary = DemoTokenizerFiles.Gpt2VocabularySize;
        var tensors = new List<DemoTensor> { DemoTensor.Weight("model.embed_tokens.weight", vocabulary, Hidden) };
        var modules = new Dictionary<string, LinearModuleShape>(StringComparer.Ordinal);
        for (var layer = 0; layer < Layers; layer++)
        {
            var prefix = $"model.layers.{layer}";
            foreach (var norm in new[] { "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm" })
            {
                tensors.Add(NormOffset($"{prefix}.{norm}.weight", Hidden));
            }

            if (queryKeyNorm)
            {
                tensors.Add(new DemoTensor($"{prefix}.self_attn.q_norm.weight", [HeadDim], 0, 0.3));
                tensors.Add(new DemoTensor($"{prefix}.self_attn.k_norm.weight", [HeadDim], 0, 0.3));
            }

            var linears = new (string Name, int In, int Out)[]
            {
                ("self_attn.q_proj", Hidden, Heads * HeadDim),
                ("self_attn.k_proj", Hidden, KvHeads * HeadDim),
                ("self_attn.v_proj", Hidden, KvHeads * HeadDim),
                ("self_attn.o_proj", Heads * HeadDim, Hidden),
                ("mlp.gate_proj", Hidden, Intermediate),
                ("mlp.up_proj", Hidden, Intermediate),
                ("mlp.down_proj", Intermediate, Hidden),
            };
            foreach (var (name, inFeatures, outFeatures) in linears)
            {
                tensors.Add(name is "self_attn.q_proj" or "self_attn.k_proj"
                    ? DemoTensor.QueryKey($"{prefix}.{name}.weight", outFeatures, inFeatures)
                    : DemoTensor.Weight($"{prefix}.{name}.weight", outFeatures, inFeatures));
                modules.Add($"{prefix}.{name}", new LinearModuleShape(inFeatures, outFeatures));
            }
        }
        tensors.Add(NormOffset("model.norm.weight", Hidden));
        modules.Add("model.embed_tokens", new LinearModuleShape((int)vocabulary, Hidden));
        modules.Add("lm_head", new LinearModuleShape(Hidden, (int)vocabulary));
        DemoAdapter[] adapters =
        [
            new("chat-r8", Rank: 8, Alpha: 16) { TargetNames = ["q_proj", "k_proj", "v_proj", "o_proj"] },
            new("all-linear-r4", Rank: 4, Alpha: 8) { TargetRegex = "all-linear" },
            new("dora-r8", Rank: 8, Alpha: 16) { TargetNames = ["q_proj", "v_proj", "o_proj", "down_proj"], UseDora = true },
            new("embed-head-r4", Rank: 4, Alpha: 8) { TargetNames = ["embed_tokens", "q_proj", "lm_head"] },
        ];
        return new DemoModelPlan(kind, config, DemoGenerationConfig.ForGpt2Tokens(), ScalarType.BFloat16, tensors, modules, Hidden,
            WordPiece: false, adapters)
        {
            EmbeddingModules = new HashSet<string>(["model.embed_tokens"], StringComparer.Ordinal),
            OutputHead = "lm_head",
        };
    }

    /// <summary>A (1 + w) norm's stored w: around 0 (transformers initialises it to 0), spread so a misapplied norm shows.</summary>
    private static DemoTensor NormOffset(string key, long size) => new(key, [size], 0, 0.1);
}
