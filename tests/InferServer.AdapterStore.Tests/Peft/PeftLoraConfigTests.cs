using InferServer.AdapterStore.Peft;

namespace InferServer.AdapterStore.Tests.Peft;

public sealed class PeftLoraConfigTests
{
    [Fact]
    public void RankAndAlphaPatterns_TakeTheFirstMatchingPatternElseTheDefaults()
    {
        var config = PeftLoraConfig.Parse("""
            {"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":["q_proj","v_proj"],
             "rank_pattern":{"layers\\.1\\.self_attn\\.q_proj":2,"q_proj":4},
             "alpha_pattern":{"v_proj":4}}
            """);

        Assert.Empty(config.UnsupportedSettings());
        Assert.Equal((4, 16.0, 4.0), (config.RankFor("model.layers.0.self_attn.q_proj"), config.AlphaFor("model.layers.0.self_attn.q_proj"), config.ScaleFor("model.layers.0.self_attn.q_proj")));
        Assert.Equal((2, 8.0), (config.RankFor("model.layers.1.self_attn.q_proj"), config.ScaleFor("model.layers.1.self_attn.q_proj")));
        Assert.Equal((8, 4.0, 0.5), (config.RankFor("model.layers.0.self_attn.v_proj"), config.AlphaFor("model.layers.0.self_attn.v_proj"), config.ScaleFor("model.layers.0.self_attn.v_proj")));

        // A pattern matches whole trailing components only: "q_proj" does not match "xq_proj".
        Assert.Equal(8, config.RankFor("model.layers.0.self_attn.xq_proj"));
    }

    [Fact]
    public void RegexTargetModules_MustMatchTheWholeModulePath()
    {
        var config = PeftLoraConfig.Parse("""{"peft_type":"LORA","target_modules":".*\\.(q|v)_proj","exclude_modules":["layers.1.self_attn.v_proj"]}""");

        Assert.True(config.Targets("model.layers.0.self_attn.q_proj"));
        Assert.False(config.Targets("model.layers.0.self_attn.q_proj_extra"));
        Assert.False(config.Targets("model.layers.0.self_attn.k_proj"));
        Assert.False(config.Targets("model.layers.1.self_attn.v_proj"));
    }

    [Fact]
    public void ListTargetModules_MatchTheNameOrATrailingComponentPath()
    {
        var config = PeftLoraConfig.Parse("""{"peft_type":"LORA","target_modules":["attn.c_proj"],"layers_to_transform":[0],"layers_pattern":"h"}""");

        Assert.True(config.Targets("transformer.h.0.attn.c_proj"));
        Assert.False(config.Targets("transformer.h.0.mlp.c_proj"));
        Assert.False(config.Targets("transformer.h.1.attn.c_proj"));
    }
}
