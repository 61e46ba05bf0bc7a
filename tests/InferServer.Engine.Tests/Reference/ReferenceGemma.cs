using System.Text.Json;
using InferServer.Safetensors;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// A slow float64 forward of Gemma2ForCausalLM and Gemma3ForCausalLM (text-only), one sequence at a time with no cache,
/// transcribed from transformers' src/transformers/models/gemma2/modeling_gemma2.py and gemma3/modeling_gemma3.py (v4.51,
/// the release Gemma 3 arrived in; the v4.53 rewrite around layer_types keeps the math) and their configuration files:
/// Gemma2RMSNorm x·rsqrt(mean(x²) + eps)·(1 + w); hidden = embed(ids) · hidden_size^½; per layer
/// x + post_attention_layernorm(attn(input_layernorm(x))), then x + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(x)));
/// attention scores q·kᵀ · query_pre_attn_scalar^−½, soft-capped as cap·tanh(s / cap) when attn_logit_softcapping is set,
/// causal, and on sliding layers also key > query − sliding_window; Gemma 2's sliding layers are the even ones
/// (<c>not bool(layer_idx % 2)</c>), Gemma 3's those with <c>(layer_idx + 1) % sliding_window_pattern != 0</c>; Gemma 3 applies
/// q_norm/k_norm before RoPE and rotates sliding layers with rope_local_base_freq (no scaling), full ones with rope_theta
/// and linear rope_scaling; MLP down(gelu_tanh(gate(x)) · up(x)); logits soft-capped by final_logit_softcapping. An
/// adapter's embedding delta is scaled with the embedding, as PEFT's BaseTunerLayer._get_embed_scale does for Gemma 3 and as
/// Gemma 2's model-level scaling does anyway.
/// </summary>
public sealed class ReferenceGemma : IDisposable
{
    private readonly Dictionary<string, Tensor> weights;
    private readonly int layers;
    private readonly int heads;
    private readonly int kvHeads;
    private readonly int headDimension;
    private readonly int hidden;
    private readonly double eps;
    private readonly double scale;
    private readonly double? attentionCap;
    private readonly double? finalCap;
    private readonly int? window;
    private readonly bool gemma3;
    private readonly bool[] sliding;
    private readonly double[] globalFrequencies;
    private readonly double[] localFrequencies;

    private ReferenceGemma(JsonElement config, Dictionary<string, Tensor> weights, bool ignoreWindow, bool ignoreSoftCaps)
    {
        this.weights = weights;
        gemma3 = config.GetProperty("model_type").GetString() == "gemma3_text";
        hidden = config.GetProperty("hidden_size").GetInt32();
        layers = config.GetProperty("num_hidden_layers").GetInt32();
        heads = config.GetProperty("num_attention_heads").GetInt32();
        kvHeads = config.GetProperty("num_key_value_heads").GetInt32();
        headDimension = config.GetProperty("head_dim").GetInt32();
        eps = config.GetProperty("rms_norm_eps").GetDouble();
        scale = Math.Pow(config.GetProperty("query_pre_attn_scalar").GetDouble(), -0.5);
        double? Number(string key) => config.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
        attentionCap = ignoreSoftCaps ? null : Number("attn_logit_softcapping");
        finalCap = ignoreSoftCaps ? null : Number("final_logit_softcapping");
        window = ignoreWindow ? null : (int?)Number("sliding_window");
        var pattern = (int)(Number("sliding_window_pattern") ?? 6);
        sliding = [.. Enumerable.Range(0, layers).Select(i => gemma3 ? (i + 1) % pattern != 0 : i % 2 == 0)];
        var theta = Number("rope_theta") ?? (gemma3 ? 1_000_000 : 10000);
        var factor = config.TryGetProperty("rope_scaling", out var s) && s.ValueKind == JsonValueKind.Object ? s.GetProperty("factor").GetDouble() : 1;
        globalFrequencies = Frequencies(theta, factor);
        localFrequencies = gemma3 ? Frequencies(Number("rope_local_base_freq") ?? 10000, 1) : globalFrequencies;
    }

    /// <summary>Loads a model directory; the flags drop the window or the soft-caps to show a test would notice them missing.</summary>
    public static ReferenceGemma Load(string directory, bool ignoreWindow = false, bool ignoreSoftCaps = false)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "config.json")));
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        using var scope = NewDisposeScope();
        var weights = checkpoint.Tensors.Keys.ToDictionary(k => k, k => checkpoint.Read(k).to(ScalarType.Float64).DetachFromDisposeScope());
        return new ReferenceGemma(document.RootElement.Clone(), weights, ignoreWindow, ignoreSoftCaps);
    }

    /// <summary>Logits at the last position.</summary>
    public double[] LastLogits(long[] tokens, ReferenceLora? lora = null)
    {
        using var scope = NewDisposeScope();
        return Forward(tokens, lora)[-1].data<double>().ToArray();
    }

    /// <summary>Greedy continuation, recomputing the whole sequence at each step.</summary>
    public long[] Greedy(long[] prompt, ReferenceLora? lora, int newTokens)
    {
        var sequence = prompt.ToList();
        for (var step = 0; step < newTokens; step++)
        {
            var logits = LastLogits([.. sequence], lora);
            sequence.Add(Array.IndexOf(logits, logits.Max()));
        }
        return [.. sequence.Skip(prompt.Length)];
    }

    private Tensor Forward(long[] tokens, ReferenceLora? lora)
    {
        var count = tokens.Length;
        var table = weights["model.embed_tokens.weight"];
        var x = (lora is null ? table.index_select(0, tensor(tokens)) : lora.Embed("model.embed_tokens", tensor(tokens), table)) * Math.Sqrt(hidden);
        var groups = heads / kvHeads;
        for (var layer = 0; layer < layers; layer++)
        {
            var p = $"model.layers.{layer}";
            var h = Norm(x, $"{p}.input_layernorm");
            var q = Linear($"{p}.self_attn.q_proj", h, lora).view(count, heads, headDimension);
            var k = Linear($"{p}.self_attn.k_proj", h, lora).view(count, kvHeads, headDimension);
            var v = Linear($"{p}.self_attn.v_proj", h, lora).view(count, kvHeads, headDimension);
            if (gemma3)
            {
                q = Norm(q, $"{p}.self_attn.q_norm");
                k = Norm(k, $"{p}.self_attn.k_norm");
            }
            var (cos, sin) = Rotary(count, sliding[layer] ? localFrequencies : globalFrequencies);
            q = ApplyRotary(q, cos, sin);
            k = ApplyRotary(k, cos, sin).repeat_interleave(groups, dim: 1);
            v = v.repeat_interleave(groups, dim: 1);
            var scores = q.permute(1, 0, 2).matmul(k.permute(1, 2, 0)) * scale;
            if (attentionCap is double cap)
                scores = (scores / cap).tanh() * cap;
            var probabilities = scores.masked_fill(Hidden(count, sliding[layer] ? window : null), double.NegativeInfinity).softmax(-1);
            var attended = probabilities.matmul(v.permute(1, 0, 2)).permute(1, 0, 2).reshape(count, heads * headDimension);
            x = x + Norm(Linear($"{p}.self_attn.o_proj", attended, lora), $"{p}.post_attention_layernorm");

            h = Norm(x, $"{p}.pre_feedforward_layernorm");
            var gate = Linear($"{p}.mlp.gate_proj", h, lora);
            var up = Linear($"{p}.mlp.up_proj", h, lora);
            x = x + Norm(Linear($"{p}.mlp.down_proj", GeluTanh(gate) * up, lora), $"{p}.post_feedforward_layernorm");
        }
        x = Norm(x, "model.norm");
        var logits = lora is null ? x.matmul(table.t()) : lora.Linear("lm_head", x, table, null);
        return finalCap is double final ? (logits / final).tanh() * final : logits;
    }

    /// <summary>True where query i may not see key j: j &gt; i, or on a sliding layer j ≤ i − window.</summary>
    private static Tensor Hidden(int count, int? window)
    {
        var hiddenKeys = new bool[count, count];
        for (var i = 0; i < count; i++)
            for (var j = 0; j < count; j++)
                hiddenKeys[i, j] = j > i || (window is int w && j <= i - w);
        return tensor(hiddenKeys);
    }

    private Tensor Linear(string module, Tensor x, ReferenceLora? lora)
    {
        var weight = weights[$"{module}.weight"];
        return lora is null ? x.matmul(weight.t()) : lora.Linear(module, x, weight, null);
    }

    private Tensor Norm(Tensor x, string module) =>
        x / (x.pow(2).mean([-1], keepdim: true) + eps).sqrt() * (weights[$"{module}.weight"] + 1.0);

    /// <summary>gelu_pytorch_tanh: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    private static Tensor GeluTanh(Tensor x) => 0.5 * x * ((x + 0.044715 * x.pow(3)) * Math.Sqrt(2 / Math.PI)).tanh().add(1.0);

    private double[] Frequencies(double theta, double factor) =>
        [.. Enumerable.Range(0, headDimension / 2).Select(i => 1.0 / Math.Pow(theta, 2.0 * i / headDimension) / factor)];

    private (Tensor Cos, Tensor Sin) Rotary(int count, double[] frequencies)
    {
        var angles = new double[count, headDimension];
        for (var position = 0; position < count; position++)
            for (var i = 0; i < headDimension; i++)
                angles[position, i] = position * frequencies[i % (headDimension / 2)];
        var table = tensor(angles);
        return (table.cos(), table.sin());
    }

    private static Tensor ApplyRotary(Tensor x, Tensor cos, Tensor sin)
    {
        var half = x.shape[^1] / 2;
        var rotated = cat([-x[.., .., (int)half..], x[.., .., ..(int)half]], -1);
        return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
    }

    public void Dispose()
    {
        foreach (var weight in weights.Values)
            weight.Dispose();
    }
}
