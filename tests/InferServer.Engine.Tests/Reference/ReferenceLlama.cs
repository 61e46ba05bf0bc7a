using System.Text.Json;
using InferServer.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// A slow, obviously correct float64 forward of the Llama family (llama, mistral without a window, qwen2, qwen3, phi3 with its
/// fused qkv_proj and gate_up_proj, transcribed from modeling_phi3.py), written from
/// transformers' modeling_llama.py / modeling_qwen2.py for one sequence at a time: no batching, no KV cache, every
/// position recomputed. Qwen3 is transcribed from transformers' src/transformers/models/qwen3/modeling_qwen3.py (read at
/// commit 000c33fdfde12e1ffafbfcdb3c926df5727a00b6; the attention math is unchanged since Qwen3 arrived in v4.51.0) and
/// configuration_qwen3.py (head_dim defaults to 128): Qwen3Attention views q_proj(x) and k_proj(x) as
/// [..., heads, head_dim], applies q_norm / k_norm (Qwen3RMSNorm over head_dim, eps = rms_norm_eps) to every head, and only
/// then apply_rotary_pos_emb; v is not normed; q/k/v/o carry a bias only with attention_bias; Qwen3MLP has no bias.
/// Phi-4-mini's RoPE is transcribed from src/transformers/models/phi3/modeling_phi3.py (read at commit
/// 00d4b3d2142cb4ced2f51b90614b5d26bc045015; partial rotary is there since Phi-4-mini arrived, v4.49) and
/// src/transformers/modeling_rope_utils.py (_compute_longrope_parameters read at 0044e3b3facff1a1ad60b235c69d5b45beae75a4,
/// dynamic_rope_update's longrope_frequency_update as in v4.51): the rotary dimension is int(head_dim ·
/// partial_rotary_factor), apply_rotary_pos_emb rotates q[..., :rotary_dim] and concatenates q[..., rotary_dim:] unchanged;
/// longrope divides theta^(2i/dim) by short_factor[i] when the sequence (max(position_ids) + 1) holds at most
/// original_max_position_embeddings tokens and by long_factor[i] otherwise, and multiplies cos and sin by
/// attention_factor, √(1 + ln(max / original) / ln(original)) unless rope_scaling gives one.
/// It reads config.json and the safetensors weights itself, so it shares nothing with the server's model code but the
/// file reader.
/// </summary>
public sealed class ReferenceLlama : IDisposable
{
    private readonly Dictionary<string, Tensor> weights;
    private readonly int layers;
    private readonly int heads;
    private readonly int kvHeads;
    private readonly int headDimension;
    private readonly double rmsNormEps;
    private readonly double[] inverseFrequencies;
    private readonly int rotaryDimension;
    private readonly double theta;
    private readonly (double[] Short, double[] Long, int Original, double AttentionFactor)? longRope;
    private readonly bool tied;
    private readonly bool queryKeyNorm;

    private ReferenceLlama(JsonElement config, Dictionary<string, Tensor> weights, bool ignoreRopeScaling, bool ignoreQueryKeyNorm)
    {
        this.weights = weights;
        var hidden = config.GetProperty("hidden_size").GetInt32();
        var qwen3 = config.TryGetProperty("model_type", out var type) && type.GetString() == "qwen3";
        queryKeyNorm = qwen3 && !ignoreQueryKeyNorm;
        layers = config.GetProperty("num_hidden_layers").GetInt32();
        heads = config.GetProperty("num_attention_heads").GetInt32();
        kvHeads = config.TryGetProperty("num_key_value_heads", out var kv) ? kv.GetInt32() : heads;
        headDimension = config.TryGetProperty("head_dim", out var hd) && hd.ValueKind == JsonValueKind.Number ? hd.GetInt32()
            : qwen3 ? 128 : hidden / heads;
        rmsNormEps = config.GetProperty("rms_norm_eps").GetDouble();
        tied = config.TryGetProperty("tie_word_embeddings", out var tie) && tie.GetBoolean();
        theta = config.TryGetProperty("rope_theta", out var t) ? t.GetDouble() : 10000.0;
        // Phi3RotaryEmbedding: dim = int(head_dim * partial_rotary_factor).
        var partial = config.TryGetProperty("partial_rotary_factor", out var prf) && prf.ValueKind == JsonValueKind.Number ? prf.GetDouble() : 1.0;
        rotaryDimension = (int)(headDimension * partial);
        var scaling = !ignoreRopeScaling && config.TryGetProperty("rope_scaling", out var rs) && rs.ValueKind == JsonValueKind.Object ? rs : (JsonElement?)null;
        var scalingType = scaling is { } st ? (st.TryGetProperty("rope_type", out var rt) ? rt.GetString() : st.GetProperty("type").GetString()) : null;
        if (scalingType is "longrope" or "su")
        {
            var maxPositions = config.GetProperty("max_position_embeddings").GetInt32();
            var original = config.TryGetProperty("original_max_position_embeddings", out var o) ? o.GetInt32() : 4096;
            // Phi3Config has original_max_position_embeddings, so factor = max / original and, without attention_factor,
            // attention_factor = sqrt(1 + log(factor) / log(original)) (1.0 when factor <= 1).
            var factor = (double)maxPositions / original;
            var attention = scaling!.Value.TryGetProperty("attention_factor", out var af) ? af.GetDouble()
                : factor <= 1.0 ? 1.0 : Math.Sqrt(1 + Math.Log(factor) / Math.Log(original));
            double[] Factors(string key) => [.. scaling!.Value.GetProperty(key).EnumerateArray().Select(v => v.GetDouble())];
            longRope = (Factors("short_factor"), Factors("long_factor"), original, attention);
            inverseFrequencies = [];
        }
        else
        {
            inverseFrequencies = InverseFrequencies(theta, rotaryDimension, scaling);
        }
    }

    /// <summary>
    /// Loads a model directory. <paramref name="ignoreRopeScaling"/> drops rope_scaling and <paramref name="ignoreQueryKeyNorm"/>
    /// Qwen3's q_norm/k_norm, to show that a test of such a model would catch an implementation that ignores them.
    /// </summary>
    public static ReferenceLlama Load(string directory, bool ignoreRopeScaling = false, bool ignoreQueryKeyNorm = false)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "config.json")));
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        using var scope = NewDisposeScope();
        var weights = checkpoint.Tensors.Keys.ToDictionary(k => k, k => checkpoint.Read(k).to(ScalarType.Float64).DetachFromDisposeScope());
        return new ReferenceLlama(document.RootElement.Clone(), weights, ignoreRopeScaling, ignoreQueryKeyNorm);
    }

    /// <summary>
    /// Logits at the last position of <paramref name="tokens"/>, optionally with a LoRA adapter. <paramref name="cachedPrompt"/>
    /// (longrope only) gives the logits transformers' generate computes with its KV cache after a prompt of that many tokens:
    /// each position keeps the rotation of the forward that computed it (the prompt's prefill, then one decode step each).
    /// </summary>
    public double[] LastLogits(long[] tokens, ReferenceLora? lora = null, int? cachedPrompt = null)
    {
        using var scope = NewDisposeScope();
        return Forward(tokens, lora, cachedPrompt)[-1].data<double>().ToArray();
    }

    /// <summary>Greedy continuation by <paramref name="newTokens"/> tokens, recomputing the whole sequence at each step,
    /// with the gap between the best and second-best logit at each step.</summary>
    public (long[] Tokens, double[] TopTwoGaps) Greedy(long[] prompt, ReferenceLora? lora, int newTokens, bool cached = false)
    {
        var sequence = prompt.ToList();
        var gaps = new List<double>();
        for (var step = 0; step < newTokens; step++)
        {
            var logits = LastLogits([.. sequence], lora, cached ? prompt.Length : null);
            var best = Array.IndexOf(logits, logits.Max());
            gaps.Add(logits[best] - logits.Where((_, i) => i != best).Max());
            sequence.Add(best);
        }
        return ([.. sequence.Skip(prompt.Length)], [.. gaps]);
    }

    /// <summary>Logits [positions, vocabulary] of one sequence.</summary>
    private Tensor Forward(long[] tokens, ReferenceLora? lora, int? cachedPrompt = null)
    {
        var x = Hidden(tokens, lora, cachedPrompt);
        var head = weights[tied ? "model.embed_tokens.weight" : "lm_head.weight"];
        return lora is null ? x.matmul(head.t()) : lora.Linear("lm_head", x, head, null);
    }

    /// <summary>The checkpoint tensor <paramref name="key"/> in float64 (a classifier's score.weight).</summary>
    public Tensor Weight(string key) => weights[key];

    /// <summary>The decoder's last hidden states [positions, hidden] of one sequence, after the final norm.</summary>
    public Tensor Hidden(long[] tokens, ReferenceLora? lora, int? cachedPrompt = null)
    {
        var count = tokens.Length;
        var x = lora is null
            ? weights["model.embed_tokens.weight"].index_select(0, tensor(tokens))
            : lora.Embed("model.embed_tokens", tensor(tokens), weights["model.embed_tokens.weight"]);
        var (cos, sin) = Rotary(count, cachedPrompt ?? count);
        var causalMask = ones(count, count, dtype: ScalarType.Bool).triu(1);
        var groups = heads / kvHeads;
        for (var layer = 0; layer < layers; layer++)
        {
            var p = $"model.layers.{layer}";
            var h = RmsNorm(x, weights[$"{p}.input_layernorm.weight"]);
            Tensor q, k, v;
            if (weights.ContainsKey($"{p}.self_attn.qkv_proj.weight"))
            {
                // Phi3Attention (modeling_phi3.py): qkv = qkv_proj(x); query, key, value = its first heads·d, next kv·d, last kv·d.
                var qkv = Linear($"{p}.self_attn.qkv_proj", h, lora);
                q = qkv[.., ..(heads * headDimension)].reshape(count, heads, headDimension);
                k = qkv[.., (heads * headDimension)..((heads + kvHeads) * headDimension)].reshape(count, kvHeads, headDimension);
                v = qkv[.., ((heads + kvHeads) * headDimension)..].reshape(count, kvHeads, headDimension);
            }
            else
            {
                q = Linear($"{p}.self_attn.q_proj", h, lora).view(count, heads, headDimension);
                k = Linear($"{p}.self_attn.k_proj", h, lora).view(count, kvHeads, headDimension);
                v = Linear($"{p}.self_attn.v_proj", h, lora).view(count, kvHeads, headDimension);
            }
            if (queryKeyNorm)
            {
                // Qwen3Attention: q_norm(q_proj(x).view(..., -1, head_dim)), the same for k, before RoPE.
                q = RmsNorm(q, weights[$"{p}.self_attn.q_norm.weight"]);
                k = RmsNorm(k, weights[$"{p}.self_attn.k_norm.weight"]);
            }
            q = ApplyRotary(q, cos, sin);
            k = ApplyRotary(k, cos, sin);
            // Grouped-query attention (repeat_kv): query head i reads KV head i / groups.
            k = k.repeat_interleave(groups, dim: 1);
            v = v.repeat_interleave(groups, dim: 1);
            var scores = q.permute(1, 0, 2).matmul(k.permute(1, 2, 0)) / Math.Sqrt(headDimension);
            var probabilities = scores.masked_fill(causalMask, double.NegativeInfinity).softmax(-1);
            var attended = probabilities.matmul(v.permute(1, 0, 2)).permute(1, 0, 2).reshape(count, heads * headDimension);
            x = x + Linear($"{p}.self_attn.o_proj", attended, lora);

            h = RmsNorm(x, weights[$"{p}.post_attention_layernorm.weight"]);
            Tensor gate, up;
            if (weights.ContainsKey($"{p}.mlp.gate_up_proj.weight"))
            {
                // Phi3MLP: gate, up_states = gate_up_proj(x).chunk(2, dim=-1).
                var chunks = Linear($"{p}.mlp.gate_up_proj", h, lora).chunk(2, -1);
                (gate, up) = (chunks[0], chunks[1]);
            }
            else
            {
                gate = Linear($"{p}.mlp.gate_proj", h, lora);
                up = Linear($"{p}.mlp.up_proj", h, lora);
            }
            x = x + Linear($"{p}.mlp.down_proj", gate * gate.sigmoid() * up, lora);
        }
        return RmsNorm(x, weights["model.norm.weight"]);
    }

    /// <summary>x·Wᵀ (+ b when the checkpoint has one, as Qwen2's q/k/v do) plus the adapter's s·(x·Aᵀ)·Bᵀ.</summary>
    private Tensor Linear(string module, Tensor x, ReferenceLora? lora)
    {
        var weight = weights[$"{module}.weight"];
        var bias = weights.GetValueOrDefault($"{module}.bias");
        if (lora is not null)
            return lora.Linear(module, x, weight, bias);
        var y = x.matmul(weight.t());
        return bias is null ? y : y + bias;
    }

    /// <summary>RMSNorm (Zhang and Sennrich 2019): x / sqrt(mean(x²) + eps) · w.</summary>
    private Tensor RmsNorm(Tensor x, Tensor weight) => x / (x.pow(2).mean([-1], keepdim: true) + rmsNormEps).sqrt() * weight;

    /// <summary>
    /// cos and sin [positions, rotaryDim] of angle position·f, each frequency repeated for both halves, times longrope's
    /// attention factor. With longrope, the forward that computes position p has seq_len = max(position_ids) + 1: the
    /// prefill's length (<paramref name="prefill"/>) for the prompt's positions, p + 1 for each later one computed alone by
    /// a decode step; without a cache the whole sequence is one forward (prefill = count).
    /// </summary>
    private (Tensor Cos, Tensor Sin) Rotary(int count, int prefill)
    {
        var scale = longRope?.AttentionFactor ?? 1.0;
        var angles = new double[count, rotaryDimension];
        for (var position = 0; position < count; position++)
        {
            var frequencies = inverseFrequencies;
            if (longRope is { } rope)
            {
                // _compute_longrope_parameters: inv_freq = 1.0 / (ext_factors * base ** (arange(0, dim, 2) / dim)),
                // ext_factors = long_factor when seq_len > original_max_position_embeddings, else short_factor.
                var ext = Math.Max(prefill, position + 1) > rope.Original ? rope.Long : rope.Short;
                frequencies = [.. Enumerable.Range(0, rotaryDimension / 2).Select(i => 1.0 / (ext[i] * Math.Pow(theta, 2.0 * i / rotaryDimension)))];
            }
            for (var i = 0; i < rotaryDimension; i++)
                angles[position, i] = position * frequencies[i % (rotaryDimension / 2)];
        }
        var table = tensor(angles);
        return (table.cos() * scale, table.sin() * scale);
    }

    /// <summary>
    /// transformers apply_rotary_pos_emb: x·cos + rotate_half(x)·sin, rotate_half(x) = [−x₂, x₁] over the halves of the
    /// rotary dimensions; Phi-3's version rotates x[..., :rotary_dim] and appends x[..., rotary_dim:] unchanged.
    /// </summary>
    private static Tensor ApplyRotary(Tensor x, Tensor cos, Tensor sin)
    {
        var rotary = (int)cos.shape[^1];
        var (rot, pass) = (x[.., .., ..rotary], x[.., .., rotary..]);
        var half = rotary / 2;
        var rotated = cat([-rot[.., .., half..], rot[.., .., ..half]], -1);
        return cat([rot * cos.unsqueeze(1) + rotated * sin.unsqueeze(1), pass], -1);
    }

    /// <summary>
    /// RoPE frequencies f_i = theta^(−2i/d) (Su et al. 2021), rescaled for rope_type llama3 as transformers'
    /// _compute_llama3_parameters does, written as the loop Meta's reference code uses.
    /// </summary>
    private static double[] InverseFrequencies(double theta, int headDimension, JsonElement? scaling)
    {
        var frequencies = new double[headDimension / 2];
        for (var i = 0; i < frequencies.Length; i++)
            frequencies[i] = 1.0 / Math.Pow(theta, 2.0 * i / headDimension);
        if (scaling is not { } s)
            return frequencies;
        var type = s.TryGetProperty("rope_type", out var rt) ? rt.GetString() : s.GetProperty("type").GetString();
        if (type != "llama3")
            throw new NotSupportedException($"the reference implements rope_type llama3 only, not '{type}'");
        var factor = s.GetProperty("factor").GetDouble();
        var lowFrequencyFactor = s.GetProperty("low_freq_factor").GetDouble();
        var highFrequencyFactor = s.GetProperty("high_freq_factor").GetDouble();
        var originalContext = s.GetProperty("original_max_position_embeddings").GetDouble();
        var lowFrequencyWavelength = originalContext / lowFrequencyFactor;
        var highFrequencyWavelength = originalContext / highFrequencyFactor;
        for (var i = 0; i < frequencies.Length; i++)
        {
            var wavelength = 2 * Math.PI / frequencies[i];
            if (wavelength < highFrequencyWavelength)
                continue;
            if (wavelength > lowFrequencyWavelength)
            {
                frequencies[i] /= factor;
                continue;
            }
            var smooth = (originalContext / wavelength - lowFrequencyFactor) / (highFrequencyFactor - lowFrequencyFactor);
            frequencies[i] = (1 - smooth) * frequencies[i] / factor + smooth * frequencies[i];
        }
        return frequencies;
    }

    public void Dispose()
    {
        foreach (var weight in weights.Values)
            weight.Dispose();
    }
}
