using System.Text.Json;
using System.Text.Json.Nodes;
using InferServer.AdapterStore.Peft;
using InferServer.Safetensors;
using TorchSharp;

namespace InferServer.Benchmarks.Peer;

/// <summary>
/// Converts a Hugging Face Llama checkpoint (config.json, model.safetensors, GPT-2 byte-level BPE vocab.json + merges.txt)
/// and its PEFT LoRA adapters to F32 GGUF files llama.cpp loads, by the rules llama.cpp's own convert scripts apply
/// (docs/benchmarks.md, "llama.cpp as a peer"):
/// <list type="bullet">
/// <item>q_proj and k_proj rows are permuted from Hugging Face's rotate-half layout to GGML's adjacent RoPE pairs: rows viewed
/// as (heads, 2, head_dim/2) with the last two axes swapped (k with the KV head count). The same permutation applies to the
/// rows of an adapter's lora_B on those modules.</item>
/// <item>The vocabulary is cut to the embedding's rows (the benchmark model has 32,000 rows beside GPT-2's 50,257 tokens),
/// keeping the merges whose parts and result all survive; a shorter vocabulary is padded with unused tokens.</item>
/// <item>An adapter is written with alpha 0 (llama.cpp then scales by 1) and PEFT's per-module scale (alpha/r, alpha/√r
/// with rsLoRA, rank and alpha patterns) folded into lora_B, because llama.cpp scales by alpha/r with one alpha per file.</item>
/// </list>
/// Only what the peer compares is supported: model_type llama, no biases, no rope scaling; LoRA on linear modules, no DoRA.
/// </summary>
public sealed class LlamaGgufConverter
{
    private static readonly Dictionary<string, string> LayerTensors = new(StringComparer.Ordinal)
    {
        ["input_layernorm"] = "attn_norm",
        ["self_attn.q_proj"] = "attn_q",
        ["self_attn.k_proj"] = "attn_k",
        ["self_attn.v_proj"] = "attn_v",
        ["self_attn.o_proj"] = "attn_output",
        ["post_attention_layernorm"] = "ffn_norm",
        ["mlp.gate_proj"] = "ffn_gate",
        ["mlp.up_proj"] = "ffn_up",
        ["mlp.down_proj"] = "ffn_down",
    };

    private readonly string modelDirectory;
    private readonly int hidden;
    private readonly int intermediate;
    private readonly int layers;
    private readonly int heads;
    private readonly int kvHeads;
    private readonly int headDimension;
    private readonly int vocabularyRows;
    private readonly bool tied;
    private readonly JsonObject config;

    /// <summary>Reads and checks <paramref name="modelDirectory"/>'s config.json.</summary>
    public LlamaGgufConverter(string modelDirectory)
    {
        this.modelDirectory = modelDirectory;
        config = JsonNode.Parse(File.ReadAllText(Path.Combine(modelDirectory, "config.json")))!.AsObject();
        if ((string?)config["model_type"] != "llama")
        {
            throw new NotSupportedException($"only model_type llama converts, not {config["model_type"]}");
        }
        if (config["rope_scaling"] is not null || (bool?)config["attention_bias"] == true || (bool?)config["mlp_bias"] == true)
        {
            throw new NotSupportedException("rope scaling and biases are not converted");
        }
        hidden = Int("hidden_size");
        intermediate = Int("intermediate_size");
        layers = Int("num_hidden_layers");
        heads = Int("num_attention_heads");
        kvHeads = config["num_key_value_heads"] is null ? heads : Int("num_key_value_heads");
        headDimension = config["head_dim"] is null ? hidden / heads : Int("head_dim");
        vocabularyRows = Int("vocab_size");
        tied = (bool?)config["tie_word_embeddings"] ?? false;
    }

    /// <summary>Every linear module an adapter may target, as the adapter loader checks them (path → in, out).</summary>
    public BaseModelSpec Spec()
    {
        var modules = new Dictionary<string, LinearModuleShape>(StringComparer.Ordinal);
        for (var layer = 0; layer < layers; layer++)
        {
            var prefix = $"model.layers.{layer}.";
            modules[prefix + "self_attn.q_proj"] = new(hidden, heads * headDimension);
            modules[prefix + "self_attn.k_proj"] = new(hidden, kvHeads * headDimension);
            modules[prefix + "self_attn.v_proj"] = new(hidden, kvHeads * headDimension);
            modules[prefix + "self_attn.o_proj"] = new(heads * headDimension, hidden);
            modules[prefix + "mlp.gate_proj"] = new(hidden, intermediate);
            modules[prefix + "mlp.up_proj"] = new(hidden, intermediate);
            modules[prefix + "mlp.down_proj"] = new(intermediate, hidden);
        }
        modules["lm_head"] = new(hidden, vocabularyRows);
        return new BaseModelSpec("llama", modules, layers, hidden) { OutputHead = "lm_head" };
    }

    /// <summary>Writes the model as an F32 GGUF at <paramref name="path"/>.</summary>
    public void WriteModel(string path)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(modelDirectory);
        var gguf = new GgufWriter();
        gguf.Add("general.architecture", "llama");
        gguf.Add("general.type", "model");
        gguf.Add("general.name", Path.GetFileName(Path.GetFullPath(modelDirectory).TrimEnd('/')));
        gguf.Add("general.file_type", 0u); // all F32
        gguf.Add("llama.block_count", (uint)layers);
        gguf.Add("llama.context_length", (uint)Int("max_position_embeddings"));
        gguf.Add("llama.embedding_length", (uint)hidden);
        gguf.Add("llama.feed_forward_length", (uint)intermediate);
        gguf.Add("llama.attention.head_count", (uint)heads);
        gguf.Add("llama.attention.head_count_kv", (uint)kvHeads);
        gguf.Add("llama.attention.key_length", (uint)headDimension);
        gguf.Add("llama.attention.value_length", (uint)headDimension);
        gguf.Add("llama.rope.freq_base", (float)(double)config["rope_theta"]!);
        gguf.Add("llama.rope.dimension_count", (uint)headDimension);
        gguf.Add("llama.attention.layer_norm_rms_epsilon", (float)(double)config["rms_norm_eps"]!);
        gguf.Add("llama.vocab_size", (uint)vocabularyRows);
        AddTokenizer(gguf);

        void Tensor(string ggufName, string hfName, Func<torch.Tensor, torch.Tensor>? transform = null)
        {
            var shape = checkpoint.Tensors[hfName].Shape.ToArray();
            gguf.AddTensor(ggufName, shape, () =>
            {
                using var read = checkpoint.Read(hfName);
                var weight = read.to(torch.ScalarType.Float32, copy: true);
                if (transform is null)
                {
                    return weight;
                }
                using (weight)
                {
                    return transform(weight);
                }
            });
        }

        Tensor("token_embd.weight", "model.embed_tokens.weight");
        for (var layer = 0; layer < layers; layer++)
        {
            foreach (var (hfModule, ggufModule) in LayerTensors)
            {
                Func<torch.Tensor, torch.Tensor>? permute = hfModule switch
                {
                    "self_attn.q_proj" => w => PermuteRotaryRows(w, heads),
                    "self_attn.k_proj" => w => PermuteRotaryRows(w, kvHeads),
                    _ => null,
                };
                Tensor($"blk.{layer}.{ggufModule}.weight", $"model.layers.{layer}.{hfModule}.weight", permute);
            }
        }
        Tensor("output_norm.weight", "model.norm.weight");
        if (!tied)
        {
            Tensor("output.weight", "lm_head.weight");
        }
        gguf.Write(path);
    }

    /// <summary>
    /// Writes the PEFT adapter in <paramref name="adapterDirectory"/> as a GGUF LoRA adapter at <paramref name="path"/>.
    /// The adapter is read by the server's own loader, so it targets exactly the modules (and scales) InferServer serves.
    /// </summary>
    public void WriteAdapter(string adapterDirectory, string path)
    {
        using var adapter = LoraAdapterLoader.Load(adapterDirectory, Path.GetFileName(adapterDirectory), Spec(), torch.ScalarType.Float32);
        var gguf = new GgufWriter();
        gguf.Add("general.architecture", "llama");
        gguf.Add("general.type", "adapter");
        gguf.Add("general.name", adapter.Name);
        gguf.Add("adapter.type", "lora");
        gguf.Add("adapter.lora.alpha", 0f);
        foreach (var module in adapter.Modules.Values.OrderBy(m => m.Module, StringComparer.Ordinal))
        {
            if (module.Dora is not null)
            {
                throw new NotSupportedException($"{adapter.Name}: DoRA ({module.Module}) has no llama.cpp form");
            }
            var (target, rotaryHeads) = AdapterTarget(module.Module);
            var a = module.A;
            var b = module.B;
            var scale = module.Scale;
            gguf.AddTensor(target + ".lora_a", a.shape, () => a.clone());
            gguf.AddTensor(target + ".lora_b", b.shape, () =>
            {
                using var scaled = b.mul(scale);
                return rotaryHeads == 0 ? scaled.clone() : PermuteRotaryRows(scaled, rotaryHeads);
            });
        }
        // The tensors are read while writing, so the adapter is disposed only after.
        gguf.Write(path);
    }

    /// <summary>The GGUF base tensor an adapted module maps to, and the head count its rows are permuted by (0: none).</summary>
    private (string Tensor, int RotaryHeads) AdapterTarget(string module)
    {
        if (module == "lm_head")
        {
            return ("output.weight", 0);
        }
        const string prefix = "model.layers.";
        if (module.StartsWith(prefix, StringComparison.Ordinal))
        {
            var rest = module[prefix.Length..];
            var dot = rest.IndexOf('.');
            var layer = int.Parse(rest[..dot], System.Globalization.CultureInfo.InvariantCulture);
            var name = rest[(dot + 1)..];
            if (LayerTensors.TryGetValue(name, out var ggufModule))
            {
                var rotary = name switch { "self_attn.q_proj" => heads, "self_attn.k_proj" => kvHeads, _ => 0 };
                return ($"blk.{layer}.{ggufModule}.weight", rotary);
            }
        }
        throw new NotSupportedException($"LoRA on {module} has no llama.cpp counterpart here");
    }

    /// <summary>Rows (heads · head_dim) from rotate-half order to adjacent pairs: (heads, 2, d/2, …) → (heads, d/2, 2, …).</summary>
    private static torch.Tensor PermuteRotaryRows(torch.Tensor weight, int headCount)
    {
        var rows = weight.shape[0];
        var rest = weight.shape.Skip(1).ToArray();
        using var view = weight.reshape([headCount, 2, rows / headCount / 2, .. rest]);
        using var swapped = view.transpose(1, 2);
        return swapped.reshape(weight.shape).contiguous();
    }

    private void AddTokenizer(GgufWriter gguf)
    {
        using var vocabularyJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(modelDirectory, "vocab.json")));
        var tokens = new string[vocabularyRows];
        foreach (var entry in vocabularyJson.RootElement.EnumerateObject())
        {
            var id = entry.Value.GetInt32();
            if (id < vocabularyRows)
            {
                tokens[id] = entry.Name;
            }
        }
        var types = new int[vocabularyRows];
        for (var id = 0; id < vocabularyRows; id++)
        {
            // 1 normal, 3 control (GPT-2's <|endoftext|>), 5 unused (padding past the tokenizer's vocabulary).
            types[id] = tokens[id] switch { null => 5, "<|endoftext|>" => 3, _ => 1 };
            tokens[id] ??= $"[PAD{id}]";
        }
        var kept = new HashSet<string>(tokens, StringComparer.Ordinal);
        var merges = File.ReadLines(Path.Combine(modelDirectory, "merges.txt"))
            .Where(line => line.Length > 0 && !line.StartsWith("#version", StringComparison.Ordinal))
            .Where(line =>
            {
                var parts = line.Split(' ');
                return parts.Length == 2 && kept.Contains(parts[0]) && kept.Contains(parts[1]) && kept.Contains(parts[0] + parts[1]);
            })
            .ToArray();
        gguf.Add("tokenizer.ggml.model", "gpt2");
        gguf.Add("tokenizer.ggml.pre", "gpt-2");
        gguf.Add("tokenizer.ggml.tokens", tokens);
        gguf.Add("tokenizer.ggml.token_type", types);
        gguf.Add("tokenizer.ggml.merges", merges);
        gguf.Add("tokenizer.ggml.add_bos_token", false);
        foreach (var (key, name) in new[] { ("bos", "bos_token_id"), ("eos", "eos_token_id") })
        {
            if (config[name] is { } id && (int)id < vocabularyRows)
            {
                gguf.Add($"tokenizer.ggml.{key}_token_id", (uint)(int)id);
            }
        }
    }

    private int Int(string key) => (int?)config[key] ?? throw new InvalidDataException($"config.json has no {key}");
}
