using System.Text.Json;
using System.Text.Json.Nodes;
using InferServer.Engine.Models.Llama;

namespace InferServer.Engine.Tests.Models;

/// <summary>
/// The config.json of microsoft/Phi-4-mini-instruct, every key it carries (its 48 short and 48 long factors replaced by
/// placeholders of the same count): nothing is refused, and the rotary settings are read as transformers reads them.
/// </summary>
public sealed class Phi4MiniConfigTests
{
    private static JsonObject Phi4MiniConfig() => new()
    {
        ["architectures"] = new JsonArray("Phi3ForCausalLM"),
        ["attention_bias"] = false,
        ["attention_dropout"] = 0.0,
        ["bos_token_id"] = 199999,
        ["embd_pdrop"] = 0.0,
        ["eos_token_id"] = 199999,
        ["full_attn_mod"] = 1,
        ["hidden_act"] = "silu",
        ["hidden_size"] = 3072,
        ["initializer_range"] = 0.02,
        ["intermediate_size"] = 8192,
        ["interpolate_factor"] = 1,
        ["lm_head_bias"] = false,
        ["max_position_embeddings"] = 131072,
        ["mlp_bias"] = false,
        ["model_type"] = "phi3",
        ["num_attention_heads"] = 24,
        ["num_hidden_layers"] = 32,
        ["num_key_value_heads"] = 8,
        ["original_max_position_embeddings"] = 4096,
        ["pad_token_id"] = 199999,
        ["partial_rotary_factor"] = 0.75,
        ["resid_pdrop"] = 0.0,
        ["rms_norm_eps"] = 1e-05,
        ["rope_scaling"] = new JsonObject
        {
            ["long_factor"] = new JsonArray([.. Enumerable.Range(0, 48).Select(i => (JsonNode)(1.0 + i))]),
            ["short_factor"] = new JsonArray([.. Enumerable.Range(0, 48).Select(i => (JsonNode)(1.0 + 0.01 * i))]),
            ["type"] = "longrope",
        },
        ["rope_theta"] = 10000.0,
        ["sliding_window"] = 262144,
        ["tie_word_embeddings"] = true,
        ["torch_dtype"] = "bfloat16",
        ["transformers_version"] = "4.45.0",
        ["use_cache"] = true,
        ["vocab_size"] = 200064,
    };

    [Fact]
    public void Phi4MiniConfig_IsAccepted_WithRoPEOnTheFirst96Of128Dimensions_AndLongRopesAttentionFactor()
    {
        var config = JsonSerializer.Deserialize<LlamaConfig>(Phi4MiniConfig().ToJsonString())!;

        Assert.Empty(config.Validate());
        Assert.Equal(128, config.HeadDimension);
        Assert.Equal(96, config.RotaryDimension);
        Assert.True(config.TiedEmbeddings);
        Assert.Null(config.ParsedRopeScaling());
        var longRope = config.ParsedLongRope()!;
        Assert.Equal(4096, longRope.OriginalMaxPositions);
        // factor 131072 / 4096 = 32: sqrt(1 + ln 32 / ln 4096) = sqrt(1 + 5/12).
        Assert.Equal(Math.Sqrt(1 + 5.0 / 12), longRope.AttentionFactor, 12);
        Assert.Equal(48, longRope.ShortFactor.Count);
        Assert.Equal(48.0, longRope.LongFactor[^1]);
    }

    [Fact]
    public void Phi4MiniConfig_WithAnAttentionFactor_UsesIt()
    {
        var json = Phi4MiniConfig();
        json["rope_scaling"]!["attention_factor"] = 1.5;

        Assert.Equal(1.5, JsonSerializer.Deserialize<LlamaConfig>(json.ToJsonString())!.ParsedLongRope()!.AttentionFactor);
    }
}
