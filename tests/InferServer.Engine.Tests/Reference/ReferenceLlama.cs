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
/// then apply_rotary_pos_emb; v is not normed; q/k/v/o carry a bias only with attention_bias; Qwen3MLP has no bias. It reads config.json and the safetensors weights itself, so it shares nothing with the server's
/// model code but the file reader.
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
        var theta = config.TryGetProperty("rope_theta", out var t) ? t.GetDouble() : 10000.0;
        inverseFrequencies = InverseFrequencies(theta, headDimension,
            !ignoreRopeScaling && config.TryGetProperty("rope_scaling", out var scaling) && scaling.ValueKind == JsonValueKind.Object ? scaling : null);
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

    /// <summary>Logits at the last position of <paramref name="tokens"/>, optionally with a LoRA adapter.</summary>
    public double[] LastLogits(long[] tokens, ReferenceLora? lora = null)
    {
        using var scope = NewDisposeScope();
        return Forward(tokens, lora)[-1].data<double>().ToArray();
    }

    /// <summary>Greedy continuation by <paramref name="newTokens"/> tokens, recomputing the whole sequence at each step,
    /// with the gap between the best and second-best logit at each step.</summary>
    public (long[] Tokens, double[] TopTwoGaps) Greedy(long[] prompt, ReferenceLora? lora, int newTokens)
    {
        var sequence = prompt.ToList();
        var gaps = new List<double>();
        for (var step = 0; step < newTokens; step++)
        {
            var logits = LastLogits([.. sequence], lora);
            var best = Array.IndexOf(logits, logits.Max());
            gaps.Add(logits[best] - logits.Where((_, i) => i != best).Max());
            sequence.Add(best);
        }
        return ([.. sequence.Skip(prompt.Length)], [.. gaps]);
    }

    /// <summary>Logits [positions, vocabulary] of one sequence.</summary>
    private Tensor Forward(long[] tokens, ReferenceLora? lora)
    {
        var x = Hidden(tokens, lora);
        var head = weights[tied ? "model.embed_tokens.weight" : "lm_head.weight"];
        return lora is null ? x.matmul(head.t()) : lora.Linear("lm_head", x, head, null);
    }

    /// <summary>The checkpoint tensor <paramref name="key"/> in float64 (a classifier's score.weight).</summary>
    public Tensor Weight(string key) => weights[key];

    /// <summary>The decoder's last hidden states [positions, hidden] of one sequence, after the final norm.</summary>
    public Tensor Hidden(long[] tokens, ReferenceLora? lora)
    {
        var count = tokens.Length;
        var x = lora is null
            ? weights["model.embed_tokens.weight"].index_select(0, tensor(tokens))
            : lora.Embed("model.embed_tokens", tensor(tokens), weights["model.embed_tokens.weight"]);
        var (cos, sin) = Rotary(count);
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

    /// <summary>cos and sin [positions, headDim] of angle position·f, each frequency repeated for both halves.</summary>
    private (Tensor Cos, Tensor Sin) Rotary(int count)
    {
        var angles = new double[count, headDimension];
        for (var position = 0; position < count; position++)
            for (var i = 0; i < headDimension; i++)
                angles[position, i] = position * inverseFrequencies[i % (headDimension / 2)];
        var table = tensor(angles);
        return (table.cos(), table.sin());
    }

    /// <summary>transformers apply_rotary_pos_emb: x·cos + rotate_half(x)·sin, rotate_half(x) = [−x₂, x₁] over the halves.</summary>
    private static Tensor ApplyRotary(Tensor x, Tensor cos, Tensor sin)
    {
        var half = x.shape[^1] / 2;
        var rotated = cat([-x[.., .., (int)half..], x[.., .., ..(int)half]], -1);
        return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
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
