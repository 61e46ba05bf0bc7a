using InferServer.Demo.Import;
using System.Text.Json.Nodes;
using InferServer.AdapterStore.Peft;
using static TorchSharp.torch;

namespace InferServer.Demo;

/// <summary>
/// The Llama-family demos (llama, qwen2, llama3, qwen3). All speak GPT-2 BPE, so the vocabulary is GPT-2's 50,257 ids and
/// the embedding tables dominate the size: the weights are stored in bfloat16, as Llama 3 and Qwen2 checkpoints are,
/// which halves the files and still gives float32 and float64 readers exactly the same numbers.
/// </summary>
internal static class DemoLlamaFamily
{
    private static readonly string[] AttentionProjections = ["q_proj", "k_proj", "v_proj", "o_proj"];
    private static readonly string[] MlpProjections = ["gate_proj", "up_proj", "down_proj"];

    private sealed record Shape(
        DemoModelKind Kind, string ModelType, string Architecture, int Hidden, int Intermediate, int Layers, int Heads, int KvHeads,
        bool Tied, double RopeTheta, int Vocabulary = DemoTokenizerFiles.Gpt2VocabularySize, int? HeadDim = null)
    {
        public int HeadDimension => HeadDim ?? Hidden / Heads;
    }

    /// <summary>The default served demo: untied head, grouped-query attention, adapters covering PEFT's config variety.</summary>
    public static DemoModelPlan Llama()
    {
        var shape = new Shape(DemoModelKind.Llama, "llama", "LlamaForCausalLM", Hidden: 64, Intermediate: 128, Layers: 2, Heads: 4, KvHeads: 2,
            Tied: false, RopeTheta: 10000);
        var config = LlamaConfig(shape);
        config["rope_scaling"] = null;
        DemoAdapter[] adapters =
        [
            new("chat-r8", Rank: 8, Alpha: 16) { TargetNames = ["q_proj", "v_proj"] },
            new("sql-r16", Rank: 16, Alpha: 32) { TargetNames = [.. AttentionProjections, .. MlpProjections] },
            new("summarize-r4-rslora", Rank: 4, Alpha: 8) { TargetNames = ["q_proj", "v_proj", "gate_proj", "up_proj"], UseRslora = true },
            // Keys shared by both patterns: PEFT 0.13 picks one key from both lists together and reads r and alpha by it.
            new("support-rank-pattern", Rank: 8, Alpha: 16)
            {
                TargetNames = [.. AttentionProjections, "down_proj"],
                RankPattern = new Dictionary<string, int> { ["o_proj"] = 4, ["layers.1.self_attn.q_proj"] = 16 },
                AlphaPattern = new Dictionary<string, int> { ["o_proj"] = 16, ["layers.1.self_attn.q_proj"] = 8 },
            },
            new("layer1-only", Rank: 8, Alpha: 8) { TargetNames = ["q_proj", "v_proj", "down_proj"], LayersToTransform = [1], LayersPattern = "layers" },
            new("regex-targets", Rank: 8, Alpha: 16) { TargetRegex = @"model\.layers\.\d+\.(self_attn\.(k|o)_proj|mlp\.up_proj)" },
        ];
        return Plan(shape, config, adapters);
    }

    /// <summary>Qwen2: biases on q/k/v (not o) and embeddings tied to the head, so model.safetensors has no lm_head.</summary>
    public static DemoModelPlan Qwen2()
    {
        var shape = new Shape(DemoModelKind.Qwen2, "qwen2", "Qwen2ForCausalLM", Hidden: 32, Intermediate: 64, Layers: 2, Heads: 4, KvHeads: 2,
            Tied: true, RopeTheta: 1000000);
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray(shape.Architecture),
            ["attention_dropout"] = 0.0,
            ["bos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
            ["eos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
            ["hidden_act"] = "silu",
            ["hidden_size"] = shape.Hidden,
            ["initializer_range"] = 0.02,
            ["intermediate_size"] = shape.Intermediate,
            ["max_position_embeddings"] = 512,
            ["max_window_layers"] = shape.Layers,
            ["model_type"] = shape.ModelType,
            ["num_attention_heads"] = shape.Heads,
            ["num_hidden_layers"] = shape.Layers,
            ["num_key_value_heads"] = shape.KvHeads,
            ["rms_norm_eps"] = 1e-6,
            ["rope_scaling"] = null,
            ["rope_theta"] = shape.RopeTheta,
            // Present but off, as in Qwen2.5's own configs: the window applies only with use_sliding_window.
            ["sliding_window"] = 512,
            ["tie_word_embeddings"] = true,
            ["torch_dtype"] = "bfloat16",
            ["transformers_version"] = HuggingFaceFiles.TransformersVersion,
            ["use_cache"] = true,
            ["use_sliding_window"] = false,
            ["vocab_size"] = DemoTokenizerFiles.Gpt2VocabularySize,
        };
        DemoAdapter[] adapters = [new("chat-r8", Rank: 8, Alpha: 16) { TargetNames = AttentionProjections }];
        return Plan(shape, config, adapters);
    }

    /// <summary>
    /// Llama 3.x: llama3 rope_scaling whose original context (64) is far below max_position_embeddings (512). With
    /// 16-wide heads and theta 500000 the eight frequencies fall in all three bands of the formula (kept, interpolated,
    /// divided by the factor), so an implementation that ignores or misreads rope_scaling gives different logits.
    /// Embeddings are tied, as in Llama 3.2.
    /// </summary>
    public static DemoModelPlan Llama3()
    {
        var shape = new Shape(DemoModelKind.Llama3, "llama", "LlamaForCausalLM", Hidden: 32, Intermediate: 64, Layers: 2, Heads: 2, KvHeads: 1,
            Tied: true, RopeTheta: 500000);
        var config = LlamaConfig(shape);
        config["rope_scaling"] = new JsonObject
        {
            ["factor"] = 8.0,
            ["high_freq_factor"] = 4.0,
            ["low_freq_factor"] = 1.0,
            ["original_max_position_embeddings"] = 64,
            ["rope_type"] = "llama3",
        };
        DemoAdapter[] adapters = [new("all-r8", Rank: 8, Alpha: 16) { TargetNames = [.. AttentionProjections, .. MlpProjections] }];
        return Plan(shape, config, adapters);
    }

    /// <summary>
    /// Qwen3 (transformers' Qwen3ForCausalLM, config keys as Qwen3's own configs carry them): q_norm and k_norm on every head
    /// before RoPE, head_dim 16 with 4 heads on hidden 32 (so heads · head_dim = 64 ≠ hidden, as in Qwen3-0.6B), no biases,
    /// the head tied to the embeddings (as Qwen3-0.6B to 4B have it, and it keeps the demos small), and Qwen3's real chat
    /// template. Its adapters cover all-linear LoRA, DoRA, and LoRA on the token embedding and on the tied lm_head.
    /// </summary>
    public static DemoModelPlan Qwen3()
    {
        var shape = new Shape(DemoModelKind.Qwen3, "qwen3", "Qwen3ForCausalLM", Hidden: 32, Intermediate: 64, Layers: 2, Heads: 4, KvHeads: 2,
            Tied: true, RopeTheta: 1000000, HeadDim: 16);
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray(shape.Architecture),
            ["attention_bias"] = false,
            ["attention_dropout"] = 0.0,
            ["bos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
            ["eos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
            ["head_dim"] = shape.HeadDimension,
            ["hidden_act"] = "silu",
            ["hidden_size"] = shape.Hidden,
            ["initializer_range"] = 0.02,
            ["intermediate_size"] = shape.Intermediate,
            ["max_position_embeddings"] = 512,
            ["max_window_layers"] = shape.Layers,
            ["model_type"] = shape.ModelType,
            ["num_attention_heads"] = shape.Heads,
            ["num_hidden_layers"] = shape.Layers,
            ["num_key_value_heads"] = shape.KvHeads,
            ["rms_norm_eps"] = 1e-6,
            ["rope_scaling"] = null,
            ["rope_theta"] = shape.RopeTheta,
            // As in Qwen3's own configs: no window (use_sliding_window false, sliding_window null).
            ["sliding_window"] = null,
            ["tie_word_embeddings"] = shape.Tied,
            ["torch_dtype"] = "bfloat16",
            // Qwen3 arrived in transformers 4.51.0, the release Qwen's own configs name.
            ["transformers_version"] = "4.51.0",
            ["use_cache"] = true,
            ["use_sliding_window"] = false,
            ["vocab_size"] = DemoTokenizerFiles.Gpt2VocabularySize,
        };
        DemoAdapter[] adapters =
        [
            new("chat-r8", Rank: 8, Alpha: 16) { TargetNames = AttentionProjections },
            new("all-linear-r4", Rank: 4, Alpha: 8) { TargetRegex = "all-linear" },
            new("dora-r8", Rank: 8, Alpha: 16) { TargetNames = ["q_proj", "v_proj", "o_proj", "down_proj"], UseDora = true },
            new("embed-head-r4", Rank: 4, Alpha: 8) { TargetNames = ["embed_tokens", "q_proj", "lm_head"] },
        ];
        return Plan(shape, config, adapters) with { ChatTemplate = DemoChatTemplates.Qwen3 };
    }

    /// <summary>
    /// LlamaForSequenceClassification: the llama demo's layout at hidden 32 with a 3-label <c>score</c> head (no bias) instead of lm_head,
    /// pad_token_id = eos (50256, as Llama reward models set it), so a text's trailing &lt;|endoftext|&gt; tokens are not the
    /// pooled position. Its SEQ_CLS adapters bring heads of 2, 4 and 1 labels (PEFT modules_to_save), with LoRA, DoRA and
    /// embedding LoRA on the decoder; one has LoRA only and keeps the base head.
    /// </summary>
    public static DemoModelPlan LlamaClassifier()
    {
        var shape = new Shape(DemoModelKind.LlamaClassifier, "llama", "LlamaForSequenceClassification", Hidden: 32, Intermediate: 64, Layers: 2,
            Heads: 4, KvHeads: 2, Tied: false, RopeTheta: 10000);
        var config = LlamaConfig(shape);
        config["rope_scaling"] = null;
        config["pad_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId;
        DemoAdapter[] adapters =
        [
            new("sentiment-cls2", Rank: 8, Alpha: 16) { TargetNames = ["q_proj", "v_proj"], ClassifierLabels = 2, LabelNames = ["negative", "positive"] },
            new("topic-dora-cls4", Rank: 4, Alpha: 8) { TargetNames = ["q_proj", "v_proj", "o_proj", "down_proj"], UseDora = true, ClassifierLabels = 4 },
            new("reward-all-linear-cls1", Rank: 4, Alpha: 8) { TargetRegex = "all-linear", ClassifierLabels = 1, LabelNames = ["reward"] },
            new("embed-cls3", Rank: 4, Alpha: 8) { TargetNames = ["embed_tokens", "q_proj", "up_proj"], ClassifierLabels = 3 },
            // SEQ_CLS without a head of its own: the base model's score reads the adapted decoder.
            new("decoder-only-r8", Rank: 8, Alpha: 32) { TargetNames = ["k_proj", "v_proj", "gate_proj", "down_proj"], TaskType = "SEQ_CLS" },
        ];
        return Classifier(shape, config, ["negative", "neutral", "positive"], adapters);
    }

    /// <summary>
    /// Qwen3ForSequenceClassification: the qwen3 demo's shape (q/k norms, head_dim 16 on hidden 32) with a 2-label score head
    /// and no pad_token_id, so transformers pools the last token.
    /// </summary>
    public static DemoModelPlan Qwen3Classifier()
    {
        var qwen3 = Qwen3();
        var shape = new Shape(DemoModelKind.Qwen3Classifier, "qwen3", "Qwen3ForSequenceClassification", Hidden: 32, Intermediate: 64, Layers: 2,
            Heads: 4, KvHeads: 2, Tied: true, RopeTheta: 1000000, HeadDim: 16);
        var config = qwen3.Config.DeepClone().AsObject();
        config["architectures"] = new JsonArray(shape.Architecture);
        DemoAdapter[] adapters =
        [
            new("intent-all-linear-cls3", Rank: 4, Alpha: 8) { TargetRegex = "all-linear", ClassifierLabels = 3 },
            new("spam-dora-cls2", Rank: 8, Alpha: 16) { TargetNames = ["q_proj", "k_proj", "v_proj", "down_proj"], UseDora = true, ClassifierLabels = 2 },
        ];
        return Classifier(shape, config, ["LABEL_0", "LABEL_1"], adapters);
    }

    /// <summary>
    /// A *ForSequenceClassification plan from the causal plan of <paramref name="shape"/>: score [labels, hidden] instead of
    /// lm_head, id2label/label2id and problem_type in config.json, no generation_config.json, no chat template.
    /// </summary>
    private static DemoModelPlan Classifier(Shape shape, JsonObject config, string[] labels, IReadOnlyList<DemoAdapter> adapters)
    {
        var id2Label = new JsonObject();
        var label2Id = new JsonObject();
        for (var i = 0; i < labels.Length; i++)
        {
            id2Label[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = labels[i];
            label2Id[labels[i]] = i;
        }
        config["id2label"] = id2Label;
        config["label2id"] = label2Id;
        config["problem_type"] = "single_label_classification";
        var causal = Plan(shape with { Tied = true }, config, adapters);
        var modules = causal.AdaptableModules.Where(m => m.Key != "lm_head").ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal);
        modules.TryAdd("model.embed_tokens", new LinearModuleShape(shape.Vocabulary, shape.Hidden));
        var tensors = causal.Tensors.Append(new DemoTensor("score.weight", [labels.Length, shape.Hidden], 0, DemoBert.ClassifierStd)).ToArray();
        return new DemoModelPlan(shape.Kind, config, null, ScalarType.BFloat16, tensors, modules, shape.Hidden, WordPiece: false, adapters)
        {
            EmbeddingModules = new HashSet<string>(["model.embed_tokens"], StringComparer.Ordinal),
            ClassifierModule = "score",
            ClassifierHasBias = false,
        };
    }

    /// <summary>
    /// The engine benchmark's model (docs/benchmarks.md): Llama-2-like proportions at a size a 2-core CPU can step, with
    /// Llama 2's 32,000-id vocabulary (prompts are token ids; the GPT-2 tokenizer beside it decodes the ids it shares).
    /// </summary>
    public static DemoModelPlan LlamaLarge()
    {
        var shape = new Shape(DemoModelKind.LlamaLarge, "llama", "LlamaForCausalLM", Hidden: 2048, Intermediate: 5632, Layers: 4, Heads: 16,
            KvHeads: 4, Tied: false, RopeTheta: 10000, Vocabulary: 32000);
        var config = BenchmarkConfig(shape);
        // Named as DemoModelGenerator.WriteTenantAdapters names them, so benchmarks address both models alike.
        var adapters = Enumerable.Range(0, 100)
            .Select(i => new DemoAdapter($"tenant-{i:D3}", Rank: 16, Alpha: 32) { TargetNames = ["q_proj", "v_proj"] })
            .ToArray();
        return Plan(shape, config, adapters);
    }

    /// <summary>
    /// The scaling benchmark's model (loadtest/README.md): the large model's proportions at a quarter of its width, so
    /// that serving thousands of adapters through the server fits a 2-core CPU's time; tenant adapters are written apart.
    /// </summary>
    public static DemoModelPlan LlamaMedium()
    {
        var shape = new Shape(DemoModelKind.LlamaMedium, "llama", "LlamaForCausalLM", Hidden: 512, Intermediate: 1408, Layers: 4, Heads: 8,
            KvHeads: 2, Tied: false, RopeTheta: 10000, Vocabulary: 32000);
        return Plan(shape, BenchmarkConfig(shape), []);
    }

    // The benchmark models: Llama 2's positions, no rope scaling.
    private static JsonObject BenchmarkConfig(Shape shape)
    {
        var config = LlamaConfig(shape);
        config["rope_scaling"] = null;
        config["max_position_embeddings"] = 2048;
        return config;
    }

    private static JsonObject LlamaConfig(Shape shape) => new()
    {
        ["architectures"] = new JsonArray(shape.Architecture),
        ["attention_bias"] = false,
        ["attention_dropout"] = 0.0,
        ["bos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
        ["eos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
        ["head_dim"] = shape.HeadDimension,
        ["hidden_act"] = "silu",
        ["hidden_size"] = shape.Hidden,
        ["initializer_range"] = 0.02,
        ["intermediate_size"] = shape.Intermediate,
        ["max_position_embeddings"] = 512,
        ["mlp_bias"] = false,
        ["model_type"] = shape.ModelType,
        ["num_attention_heads"] = shape.Heads,
        ["num_hidden_layers"] = shape.Layers,
        ["num_key_value_heads"] = shape.KvHeads,
        ["pretraining_tp"] = 1,
        ["rms_norm_eps"] = 1e-6,
        ["rope_theta"] = shape.RopeTheta,
        ["tie_word_embeddings"] = shape.Tied,
        ["torch_dtype"] = "bfloat16",
        ["transformers_version"] = HuggingFaceFiles.TransformersVersion,
        ["use_cache"] = true,
        ["vocab_size"] = shape.Vocabulary,
    };

    private static DemoModelPlan Plan(Shape shape, JsonObject config, IReadOnlyList<DemoAdapter> adapters)
    {
        long vocabulary = shape.Vocabulary;
        var qkvBias = shape.ModelType == "qwen2";
        var queryKeyNorm = shape.ModelType == "qwen3";
        var tensors = new List<DemoTensor> { DemoTensor.Weight("model.embed_tokens.weight", vocabulary, shape.Hidden) };
        var modules = new Dictionary<string, LinearModuleShape>(StringComparer.Ordinal);
        var attentionWidth = shape.Heads * shape.HeadDimension;
        var kvWidth = shape.KvHeads * shape.HeadDimension;
        for (var layer = 0; layer < shape.Layers; layer++)
        {
            var prefix = $"model.layers.{layer}";
            tensors.Add(DemoTensor.NormScale($"{prefix}.input_layernorm.weight", shape.Hidden));
            tensors.Add(DemoTensor.NormScale($"{prefix}.post_attention_layernorm.weight", shape.Hidden));
            if (queryKeyNorm)
            {
                // Spread wider than the other norms' (real Qwen3 q/k norm scales vary a lot), so a wrong or missing one shows.
                tensors.Add(new DemoTensor($"{prefix}.self_attn.q_norm.weight", [shape.HeadDimension], 1, 0.3));
                tensors.Add(new DemoTensor($"{prefix}.self_attn.k_norm.weight", [shape.HeadDimension], 1, 0.3));
            }
            var linears = new (string Name, int In, int Out, bool Bias)[]
            {
                ("self_attn.q_proj", shape.Hidden, attentionWidth, qkvBias),
                ("self_attn.k_proj", shape.Hidden, kvWidth, qkvBias),
                ("self_attn.v_proj", shape.Hidden, kvWidth, qkvBias),
                ("self_attn.o_proj", attentionWidth, shape.Hidden, false),
                ("mlp.gate_proj", shape.Hidden, shape.Intermediate, false),
                ("mlp.up_proj", shape.Hidden, shape.Intermediate, false),
                ("mlp.down_proj", shape.Intermediate, shape.Hidden, false),
            };
            foreach (var (name, inFeatures, outFeatures, bias) in linears)
            {
                tensors.Add(name is "self_attn.q_proj" or "self_attn.k_proj"
                    ? DemoTensor.QueryKey($"{prefix}.{name}.weight", outFeatures, inFeatures)
                    : DemoTensor.Weight($"{prefix}.{name}.weight", outFeatures, inFeatures));
                if (bias)
                {
                    tensors.Add(DemoTensor.Bias($"{prefix}.{name}.bias", outFeatures));
                }

                modules.Add($"{prefix}.{name}", new LinearModuleShape(inFeatures, outFeatures));
            }
        }
        tensors.Add(DemoTensor.NormScale("model.norm.weight", shape.Hidden));
        if (!shape.Tied)
        {
            tensors.Add(DemoTensor.Weight("lm_head.weight", vocabulary, shape.Hidden));
        }

        if (!queryKeyNorm)
        {
            return new DemoModelPlan(shape.Kind, config, DemoGenerationConfig.ForGpt2Tokens(), ScalarType.BFloat16, tensors, modules, shape.Hidden,
                WordPiece: false, adapters);
        }

        // Qwen3's adapters also reach the token embedding and the output head, which PEFT wraps when named.
        modules.Add("model.embed_tokens", new LinearModuleShape((int)vocabulary, shape.Hidden));
        modules.Add("lm_head", new LinearModuleShape(shape.Hidden, (int)vocabulary));
        return new DemoModelPlan(shape.Kind, config, DemoGenerationConfig.ForGpt2Tokens(), ScalarType.BFloat16, tensors, modules, shape.Hidden,
            WordPiece: false, adapters)
        {
            EmbeddingModules = new HashSet<string>(["model.embed_tokens"], StringComparer.Ordinal),
            OutputHead = "lm_head",
        };
    }
}
