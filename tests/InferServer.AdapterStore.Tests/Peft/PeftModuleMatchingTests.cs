using InferServer.AdapterStore.Peft;
using TorchSharp;

namespace InferServer.AdapterStore.Tests.Peft;

/// <summary>
/// The modules an adapter config adapts, compared with the list PEFT computes. Each expected list is written by hand from
/// PEFT's rules (peft/tuners/tuners_utils.py: <c>check_target_module_exists</c>, <c>_maybe_include_all_linear_layers</c>),
/// and each case names the rule it checks.
/// </summary>
public sealed class PeftModuleMatchingTests
{
    private static readonly string[] LlamaProjections = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

    public static TheoryData<string, string, string, string[]> Cases => new()
    {
        {
            "list entry matches a path ending in '.' + entry",
            "llama", """{"target_modules":["q_proj","v_proj"]}""",
            [Llama(0, "self_attn.q_proj"), Llama(0, "self_attn.v_proj"), Llama(1, "self_attn.q_proj"), Llama(1, "self_attn.v_proj")]
        },
        {
            "a list entry must follow a dot: 'proj' is no suffix component of 'q_proj'",
            "llama", """{"target_modules":["proj"]}""", []
        },
        {
            "a list entry may span components",
            "llama", """{"target_modules":["self_attn.q_proj"]}""", [Llama(0, "self_attn.q_proj"), Llama(1, "self_attn.q_proj")]
        },
        {
            "matching is case-sensitive",
            "llama", """{"target_modules":["Q_PROJ"]}""", []
        },
        {
            "all-linear: every Linear but get_output_embeddings() (lm_head)",
            "llama", """{"target_modules":"all-linear"}""", [.. AllLlama()]
        },
        {
            "the all-linear shorthand is compared lower-cased",
            "llama", """{"target_modules":"ALL-LINEAR"}""", [.. AllLlama()]
        },
        {
            "lm_head is adapted when named: a list entry equal to the path",
            "llama", """{"target_modules":["q_proj","lm_head"]}""", [Llama(0, "self_attn.q_proj"), Llama(1, "self_attn.q_proj"), "lm_head"]
        },
        {
            "a string is re.fullmatch'ed against the whole path",
            "llama", """{"target_modules":".*\\.layers\\.1\\..*_proj"}""", [.. LlamaProjections.Select(p => Llama(1, p)).Order(StringComparer.Ordinal)]
        },
        {
            "a string matching only part of the path matches nothing",
            "llama", """{"target_modules":"q_proj"}""", []
        },
        {
            "a regex may name lm_head",
            "llama", """{"target_modules":"lm_head|.*\\.0\\.self_attn\\.q_proj"}""", ["lm_head", Llama(0, "self_attn.q_proj")]
        },
        {
            "layers_to_transform keeps suffix matches whose first numbered component is listed",
            "llama", """{"target_modules":["q_proj","v_proj"],"layers_to_transform":[1]}""", [Llama(1, "self_attn.q_proj"), Llama(1, "self_attn.v_proj")]
        },
        {
            "layers_to_transform may be one int",
            "llama", """{"target_modules":["o_proj"],"layers_to_transform":0}""", [Llama(0, "self_attn.o_proj")]
        },
        {
            "a list entry equal to the whole path matches before layers_to_transform is looked at",
            "llama", """{"target_modules":["q_proj","model.layers.0.self_attn.v_proj"],"layers_to_transform":[1]}""",
            [Llama(0, "self_attn.v_proj"), Llama(1, "self_attn.q_proj")]
        },
        {
            "lm_head named by its whole path is adapted even with layers_to_transform (exact paths skip the layer check)",
            "llama", """{"target_modules":["q_proj","lm_head"],"layers_to_transform":[1]}""", [Llama(1, "self_attn.q_proj"), "lm_head"]
        },
        {
            "layers_pattern names the component before the layer index",
            "llama", """{"target_modules":["down_proj"],"layers_to_transform":[1],"layers_pattern":"layers"}""", [Llama(1, "mlp.down_proj")]
        },
        {
            "a layers_pattern that is not in the path adapts nothing",
            "llama", """{"target_modules":["down_proj"],"layers_to_transform":[1],"layers_pattern":["h","blocks"]}""", []
        },
        {
            "exclude_modules list: the path or a '.' + entry suffix",
            "llama", """{"target_modules":"all-linear","exclude_modules":["o_proj","mlp.up_proj","model.layers.1.mlp.down_proj"]}""",
            [.. AllLlama().Where(m => !m.EndsWith("o_proj", StringComparison.Ordinal) && !m.EndsWith("up_proj", StringComparison.Ordinal) && m != Llama(1, "mlp.down_proj"))]
        },
        {
            "exclude_modules string: re.fullmatch",
            "llama", """{"target_modules":["q_proj","v_proj"],"exclude_modules":".*\\.0\\..*"}""", [Llama(1, "self_attn.q_proj"), Llama(1, "self_attn.v_proj")]
        },
        {
            "GPT-2 Conv1D layers match like Linear; c_proj names both the attention and the MLP projection",
            "gpt2", """{"target_modules":["c_attn","c_proj"],"fan_in_fan_out":true}""",
            [Gpt2(0, "attn.c_attn"), Gpt2(0, "attn.c_proj"), Gpt2(0, "mlp.c_proj"), Gpt2(1, "attn.c_attn"), Gpt2(1, "attn.c_proj"), Gpt2(1, "mlp.c_proj")]
        },
        {
            "GPT-2 all-linear: the four Conv1D of each block, not the tied lm_head",
            "gpt2", """{"target_modules":"all-linear"}""",
            [.. new[] { 0, 1 }.SelectMany(i => new[] { Gpt2(i, "attn.c_attn"), Gpt2(i, "attn.c_proj"), Gpt2(i, "mlp.c_fc"), Gpt2(i, "mlp.c_proj") }).Order(StringComparer.Ordinal)]
        },
        {
            "GPT-2 layers_pattern 'h'",
            "gpt2", """{"target_modules":["c_fc"],"layers_to_transform":[0],"layers_pattern":"h"}""", [Gpt2(0, "mlp.c_fc")]
        },
        {
            "GPT-2 tied lm_head is adapted when named",
            "gpt2", """{"target_modules":["lm_head"]}""", ["lm_head"]
        },
        {
            "an embedding is adapted when named (PEFT lora.Embedding)",
            "llama", """{"target_modules":["embed_tokens","q_proj"]}""", ["model.embed_tokens", Llama(0, "self_attn.q_proj"), Llama(1, "self_attn.q_proj")]
        },
        {
            "GPT-2 token and position embeddings by name",
            "gpt2", """{"target_modules":["wte","wpe","c_attn"],"fan_in_fan_out":true}""", ["transformer.wte", "transformer.wpe", Gpt2(0, "attn.c_attn"), Gpt2(1, "attn.c_attn")]
        },
        {
            "BERT word embeddings by a regex",
            "bert", """{"target_modules":".*word_embeddings|.*\\.0\\..*query"}""", ["bert.embeddings.word_embeddings", Bert(0, "attention.self.query")]
        },
        {
            "BERT 'dense' also matches bert.pooler.dense (the issue's user report)",
            "bert", """{"task_type":"SEQ_CLS","target_modules":["query","key","value","dense"],"modules_to_save":["classifier","score"]}""",
            [.. AllBert()]
        },
        {
            "BERT all-linear for SEQ_CLS: every Linear but the classifier head",
            "bert", """{"task_type":"SEQ_CLS","target_modules":"all-linear","modules_to_save":["classifier","score"]}""", [.. AllBert()]
        },
        {
            "BERT with layers_to_transform: the pooler has no layer index",
            "bert", """{"target_modules":["dense"],"layers_to_transform":[0]}""",
            [Bert(0, "attention.output.dense"), Bert(0, "intermediate.dense"), Bert(0, "output.dense")]
        },
        {
            "nothing inside a modules_to_save module is adapted",
            "bert", """{"target_modules":["dense"],"modules_to_save":["pooler"]}""",
            [.. new[] { 0, 1 }.SelectMany(i => new[] { Bert(i, "attention.output.dense"), Bert(i, "intermediate.dense"), Bert(i, "output.dense") }).Order(StringComparer.Ordinal)]
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void AdaptedModules_AreTheOnesPeftWouldWrap(string rule, string model, string config, string[] expected)
    {
        var spec = SpecOf(model);
        var parsed = PeftLoraConfig.Parse(config.Replace("{", """{"peft_type":"LORA",""", StringComparison.Ordinal));

        Assert.True(spec.TargetedModules(parsed).SequenceEqual(expected.Order(StringComparer.Ordinal)),
            $"{rule}: expected [{string.Join(", ", expected)}], got [{string.Join(", ", spec.TargetedModules(parsed))}]");
    }

    [Fact]
    public void BertAdapterOnQueryKeyValueDense_LoadsWithThePoolerDense()
    {
        using var root = new TemporaryDirectory();
        var spec = FixtureModels.Bert;
        string directory = SyntheticAdapters.Write(root.File("qkvd"), rank: 2, seed: 5, modules: [.. AllBert()], spec: spec);
        File.WriteAllText(Path.Combine(directory, LoraAdapterLoader.ConfigFileName), """
            {"peft_type":"LORA","task_type":"SEQ_CLS","r":2,"lora_alpha":4,"target_modules":["query","key","value","dense"],
             "modules_to_save":["classifier","score"],"bias":"none"}
            """);

        using var adapter = LoraAdapterLoader.Load(directory, "qkvd", spec, torch.ScalarType.Float32);

        Assert.Contains("bert.pooler.dense", adapter.Modules.Keys);
        Assert.Equal(13, adapter.Modules.Count);
    }

    [Fact]
    public void AdapterWithoutWeightsForAModulePeftWouldWrap_IsRefusedNamingTheModule()
    {
        using var root = new TemporaryDirectory();
        var spec = FixtureModels.Bert;
        string directory = SyntheticAdapters.Write(root.File("no-pooler"), rank: 2, seed: 5, modules: [.. AllBert().Where(m => m != "bert.pooler.dense")], spec: spec);
        File.WriteAllText(Path.Combine(directory, LoraAdapterLoader.ConfigFileName), """
            {"peft_type":"LORA","task_type":"SEQ_CLS","r":2,"lora_alpha":4,"target_modules":["query","key","value","dense"],"bias":"none"}
            """);

        var error = Assert.Throws<InvalidAdapterException>(() => LoraAdapterLoader.Load(directory, "no-pooler", spec, torch.ScalarType.Float32));

        Assert.Contains("'bert.pooler.dense'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"target_modules":"q_proj","layers_to_transform":[0]}""", "layers_to_transform cannot be used when target_modules is a string")]
    [InlineData("""{"target_modules":"all-linear","layers_pattern":"layers","layers_to_transform":[0]}""", "layers_pattern cannot be used when target_modules is a string")]
    [InlineData("""{"target_modules":["q_proj"],"layers_pattern":"layers"}""", "layers_pattern needs layers_to_transform")]
    public void ConfigsPeftRefuses_AreRefused(string config, string problem)
    {
        var parsed = PeftLoraConfig.Parse(config.Replace("{", """{"peft_type":"LORA",""", StringComparison.Ordinal));

        Assert.Contains(parsed.UnsupportedSettings(), p => p.Contains(problem, StringComparison.Ordinal));
    }

    private static BaseModelSpec SpecOf(string model) => model switch
    {
        "llama" => FixtureModels.Llama,
        "gpt2" => FixtureModels.Gpt2,
        _ => FixtureModels.Bert,
    };

    private static string Llama(int layer, string projection) => $"model.layers.{layer}.{projection}";

    private static string Gpt2(int layer, string projection) => $"transformer.h.{layer}.{projection}";

    private static string Bert(int layer, string projection) => $"bert.encoder.layer.{layer}.{projection}";

    private static IEnumerable<string> AllLlama() =>
        new[] { 0, 1 }.SelectMany(i => LlamaProjections.Select(p => Llama(i, p))).Order(StringComparer.Ordinal);

    private static IEnumerable<string> AllBert() =>
        new[] { 0, 1 }.SelectMany(i => new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense" }.Select(p => Bert(i, p)))
            .Append("bert.pooler.dense").Order(StringComparer.Ordinal);
}
