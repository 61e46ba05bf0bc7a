using InferServer.AdapterStore.Peft;
using InferServer.Safetensors;
using TorchSharp;

namespace InferServer.AdapterStore.Tests.Peft;

public sealed class LoraAdapterLoaderTests
{
    [Fact]
    public void LlamaQvAdapter_LoadsQueryAndValueOfEveryLayerWithScaleAlphaOverR()
    {
        using var adapter = LoraAdapterLoader.Load(FixtureModels.AdapterDirectory("llama-tiny", "qv-r8"), "qv", FixtureModels.Llama, torch.ScalarType.Float32);

        Assert.Equal(
            ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"],
            adapter.Modules.Keys.Order());
        Assert.All(adapter.Modules.Values, m => Assert.Equal((8, 2.0), (m.Rank, m.Scale)));
        var v = adapter.Modules["model.layers.1.self_attn.v_proj"];
        Assert.Equal(new long[] { 8, 64 }, v.A.shape);
        Assert.Equal(new long[] { 32, 8 }, v.B.shape);
        Assert.Null(adapter.Classifier);
        Assert.Equal(14336, adapter.TotalBytes);
    }

    [Fact]
    public void LlamaAllLinearAdapter_CoversAllSevenProjectionsOfBothLayers()
    {
        using var adapter = LoraAdapterLoader.Load(FixtureModels.AdapterDirectory("llama-tiny", "all-r16"), "all", FixtureModels.Llama, torch.ScalarType.Float32);

        // all-linear leaves out the output head (PEFT _maybe_include_all_linear_layers).
        Assert.Equal(FixtureModels.Llama.Modules.Keys.Where(m => m != "lm_head" && m != "model.embed_tokens").Order(), adapter.Modules.Keys.Order());
        Assert.All(adapter.Modules.Values, m => Assert.Equal((16, 2.0), (m.Rank, m.Scale)));
        Assert.Equal(new long[] { 16, 128 }, adapter.Modules["model.layers.0.mlp.down_proj"].A.shape);
    }

    [Fact]
    public void LayersToTransform_LimitsTheAdapterToLayerOne()
    {
        using var adapter = LoraAdapterLoader.Load(FixtureModels.AdapterDirectory("llama-tiny", "qv-r4-layer1"), "l1", FixtureModels.Llama, torch.ScalarType.Float32);

        Assert.Equal(["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"], adapter.Modules.Keys.Order());
        Assert.Equal([1], adapter.Config.LayersToTransform!);
        Assert.All(adapter.Modules.Values, m => Assert.Equal((4, 1.0), (m.Rank, m.Scale)));
    }

    [Fact]
    public void Gpt2Conv1DAdapter_KeepsPeftsLayoutAOfRByInAndBOfOutByR()
    {
        using var adapter = LoraAdapterLoader.Load(FixtureModels.AdapterDirectory("gpt2-tiny", "attn-r4"), "attn", FixtureModels.Gpt2, torch.ScalarType.Float32);

        Assert.True(adapter.Config.FanInFanOut);
        Assert.Equal(["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"], adapter.Modules.Keys.Order());
        var module = adapter.Modules["transformer.h.1.attn.c_attn"];
        Assert.Equal(new long[] { 4, 64 }, module.A.shape);
        Assert.Equal(new long[] { 192, 4 }, module.B.shape);
        Assert.Equal(2.0, module.Scale);
        Assert.Equal(-0.04600144922733307, module.B[0, 0].item<float>(), 1e-7);
    }

    [Fact]
    public void RsLoraAdapter_ScalesByAlphaOverSquareRootOfR()
    {
        using var adapter = LoraAdapterLoader.Load(FixtureModels.AdapterDirectory("gpt2-tiny", "all-r8-rslora"), "rs", FixtureModels.Gpt2, torch.ScalarType.Float32);

        Assert.Equal(8, adapter.Modules.Count);
        Assert.All(adapter.Modules.Values, m => Assert.Equal(16 / Math.Sqrt(8), m.Scale, 12));
        Assert.Equal(new long[] { 8, 256 }, adapter.Modules["transformer.h.0.mlp.c_proj"].A.shape);
    }

    [Theory]
    [InlineData("qv-r4-cls2", 4, 2.0, 2)]
    [InlineData("qv-r8-cls3", 8, 2.0, 3)]
    public void BertClassificationAdapter_BringsItsOwnHeadWithDefaultLabelNames(string fixture, int rank, double scale, int labels)
    {
        using var adapter = LoraAdapterLoader.Load(FixtureModels.AdapterDirectory("bert-tiny-cls", fixture), fixture, FixtureModels.Bert, torch.ScalarType.Float32);

        Assert.Equal(4, adapter.Modules.Count);
        Assert.All(adapter.Modules.Values, m => Assert.Equal((rank, scale), (m.Rank, m.Scale)));
        var head = adapter.Classifier!;
        Assert.Equal(new long[] { labels, 64 }, head.Weight.shape);
        Assert.Equal(new long[] { labels }, head.Bias!.shape);
        Assert.Equal(Enumerable.Range(0, labels).Select(i => $"LABEL_{i}"), head.Labels);
    }

    [Fact]
    public void RequestedDType_IsAppliedToEveryTensor()
    {
        using var adapter = LoraAdapterLoader.Load(FixtureModels.AdapterDirectory("bert-tiny-cls", "qv-r4-cls2"), "bf16", FixtureModels.Bert, torch.ScalarType.BFloat16);

        Assert.All(adapter.Modules.Values, m => Assert.Equal((torch.ScalarType.BFloat16, torch.ScalarType.BFloat16), (m.A.dtype, m.B.dtype)));
        Assert.Equal(torch.ScalarType.BFloat16, adapter.Classifier!.Weight.dtype);
        Assert.Equal(8712 / 2, adapter.TotalBytes);
    }

    [Fact]
    public void IdToLabelBesideTheAdapter_NamesTheHeadsLabels()
    {
        using var directory = CopyFixture("bert-tiny-cls", "qv-r4-cls2");
        File.WriteAllText(directory.File("config.json"), """{"id2label":{"0":"no","1":"yes"}}""");

        using var adapter = LoraAdapterLoader.Load(directory.Path, "labels", FixtureModels.Bert, torch.ScalarType.Float32);
        Assert.Equal(["no", "yes"], adapter.Classifier!.Labels);
    }

    [Fact]
    public void MissingConfig_IsRefused()
    {
        using var directory = CopyFixture("llama-tiny", "qv-r8");
        File.Delete(directory.File(LoraAdapterLoader.ConfigFileName));

        AssertRefused(directory, FixtureModels.Llama, "adapter_config.json is missing");
    }

    [Fact]
    public void MissingSafetensors_IsRefused()
    {
        using var directory = CopyFixture("llama-tiny", "qv-r8");
        File.Delete(directory.File(LoraAdapterLoader.WeightsFileName));

        AssertRefused(directory, FixtureModels.Llama, "adapter_model.safetensors is missing");
    }

    [Fact]
    public void PickledBinOnly_IsRefusedAndNeverUnpickled()
    {
        using var directory = CopyFixture("llama-tiny", "qv-r8");
        File.Move(directory.File(LoraAdapterLoader.WeightsFileName), directory.File("adapter_model.bin"));

        AssertRefused(directory, FixtureModels.Llama, "only a pickled adapter_model.bin is present");
    }

    [Fact]
    public void TruncatedSafetensors_IsRefusedNamingTheFile()
    {
        using var directory = CopyFixture("llama-tiny", "qv-r8");
        string weights = directory.File(LoraAdapterLoader.WeightsFileName);
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..^100]);

        AssertRefused(directory, FixtureModels.Llama, LoraAdapterLoader.WeightsFileName, "end past the data buffer"); // the file, never its server path
    }

    [Theory]
    [InlineData("\"use_dora\": false", "\"use_dora\": false, \"use_qalora\": true", "use_qalora true is not supported")]
    [InlineData("\"bias\": \"none\"", "\"bias\": \"all\"", "bias 'all' is not supported")]
    [InlineData("\"peft_type\": \"LORA\"", "\"peft_type\": \"IA3\"", "peft_type 'IA3' is not supported")]
    [InlineData("\"layers_pattern\": null", "\"layer_replication\": [[0, 2], [1, 2]]", "layer_replication [[0, 2], [1, 2]] is not supported")]
    [InlineData("\"task_type\": \"CAUSAL_LM\"", "\"task_type\": \"SEQ_2_SEQ_LM\"", "task_type 'SEQ_2_SEQ_LM' is not supported")]
    [InlineData("\"v_proj\"\n  ]", "\"v_proj\", \"embed_tokens\"\n  ]", "module 'model.embed_tokens' is targeted by target_modules")]
    [InlineData("\"modules_to_save\": null", "\"modules_to_save\": [\"lm_head\"]", "modules_to_save 'lm_head' is not supported")]
    [InlineData("\"rank_pattern\": {}", "\"rank_pattern\": {\"q_proj(\": 4}", "rank_pattern pattern 'q_proj(' is not a valid regular expression")]
    public void UnsupportedConfigValue_IsRefusedNamingKeyAndValue(string original, string replacement, string problem)
    {
        using var directory = CopyFixture("llama-tiny", "qv-r8");
        EditConfig(directory, original, replacement);

        AssertRefused(directory, FixtureModels.Llama, problem);
    }

    [Fact]
    public void KeyForAModuleTheBaseDoesNotHave_IsRefused()
    {
        using var directory = CopyFixture("llama-tiny", "qv-r8");
        RewriteWeights(directory, tensors => tensors["base_model.model.model.layers.0.self_attn.rotary.lora_A.weight"] = torch.zeros(8, 64));

        AssertRefused(directory, FixtureModels.Llama, "maps to no adaptable module of base model 'llama' (module 'model.layers.0.self_attn.rotary')");
    }

    [Fact]
    public void UnexpectedNonLoraKey_IsRefused()
    {
        using var directory = CopyFixture("llama-tiny", "qv-r8");
        RewriteWeights(directory, tensors => tensors["base_model.model.lm_head.weight"] = torch.zeros(1000, 64));

        AssertRefused(directory, FixtureModels.Llama, "unexpected key 'base_model.model.lm_head.weight'");
    }

    [Fact]
    public void WrongShape_IsRefusedNamingModuleAndExpectedShape()
    {
        using var directory = CopyFixture("llama-tiny", "qv-r8");
        RewriteWeights(directory, tensors => tensors["base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"] = torch.zeros(64, 8));

        AssertRefused(directory, FixtureModels.Llama, "module 'model.layers.0.self_attn.v_proj': lora_B [64, 8] should be [32, r]");
    }

    [Fact]
    public void MissingPartner_IsRefused()
    {
        using var directory = CopyFixture("llama-tiny", "qv-r8");
        RewriteWeights(directory, tensors => tensors.Remove("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"));

        AssertRefused(directory, FixtureModels.Llama, "module 'model.layers.1.self_attn.q_proj' has lora_B but no lora_A");
    }

    [Fact]
    public void RankAboveTheServersMaximum_IsRefused()
    {
        var error = Assert.Throws<InvalidAdapterException>(() =>
            LoraAdapterLoader.Load(FixtureModels.AdapterDirectory("llama-tiny", "all-r16"), "big", FixtureModels.Llama, torch.ScalarType.Float32, maxRank: 8));

        Assert.Contains("rank 16 is above the maximum rank 8", error.Message);
        Assert.Equal(14, error.Problems.Count);
    }

    [Fact]
    public void RankDifferentFromTheConfig_IsRefused()
    {
        using var directory = CopyFixture("llama-tiny", "qv-r8");
        EditConfig(directory, "\"r\": 8", "\"r\": 4");

        AssertRefused(directory, FixtureModels.Llama, "weights have rank 8 but the config gives rank 4 (r / rank_pattern)");
    }

    [Fact]
    public void WeightsOutsideLayersToTransform_AreRefused()
    {
        using var directory = CopyFixture("llama-tiny", "qv-r8");
        EditConfig(directory, "\"layers_to_transform\": null", "\"layers_to_transform\": 1");

        AssertRefused(directory, FixtureModels.Llama, "module 'model.layers.0.self_attn.q_proj' has LoRA weights but is not matched by target_modules [q_proj, v_proj] with layers_to_transform [1]");
    }

    [Fact]
    public void AdapterForAnotherBaseModel_IsRefusedForEveryKey()
    {
        var error = Assert.Throws<InvalidAdapterException>(() =>
            LoraAdapterLoader.Load(FixtureModels.AdapterDirectory("gpt2-tiny", "attn-r4"), "gpt2-on-llama", FixtureModels.Llama, torch.ScalarType.Float32));

        // Both keys, and the config itself: PEFT finds none of its target modules in this base.
        Assert.Equal(3, error.Problems.Count);
        Assert.Equal(2, error.Problems.Count(problem => problem.Contains("maps to no adaptable module of base model 'llama'", StringComparison.Ordinal)));
        Assert.Contains(error.Problems, problem => problem.Contains("match no module of base model 'llama'", StringComparison.Ordinal));
        Assert.Contains("transformer.h.0.attn.c_attn", error.Message);
    }

    [Fact]
    public void ClassifierHeadOnABaseWithoutClassifier_IsRefused()
    {
        var error = Assert.Throws<InvalidAdapterException>(() =>
            LoraAdapterLoader.Load(FixtureModels.AdapterDirectory("bert-tiny-cls", "qv-r4-cls2"), "cls", FixtureModels.Bert with { Classifier = null }, torch.ScalarType.Float32));

        Assert.Contains("key 'base_model.model.classifier.weight' is a classifier head, but base model 'bert' has no classifier", error.Message);
    }

    [Fact]
    public void ClassifierHeadOfTheWrongWidth_IsRefused()
    {
        var error = Assert.Throws<InvalidAdapterException>(() =>
            LoraAdapterLoader.Load(FixtureModels.AdapterDirectory("bert-tiny-cls", "qv-r4-cls2"), "cls", FixtureModels.Bert with { Classifier = new ClassifierSpec(128) }, torch.ScalarType.Float32));

        Assert.Contains("classifier head weight 'base_model.model.classifier.weight' [2, 64] should be [labels, 128]", error.Message);
    }

    [Fact]
    public void HeadlessSequenceClassificationAdapter_LoadsWithoutAHead()
    {
        using var directory = CopyFixture("bert-tiny-cls", "qv-r4-cls2");
        RewriteWeights(directory, tensors =>
        {
            tensors.Remove("base_model.model.classifier.weight");
            tensors.Remove("base_model.model.classifier.bias");
        });

        using var adapter = LoraAdapterLoader.Load(directory.Path, "headless", FixtureModels.Bert, torch.ScalarType.Float32);
        Assert.Null(adapter.Classifier);
        Assert.Equal(4, adapter.Modules.Count);
    }

    [Fact]
    public void SeveralProblems_AreReportedTogether()
    {
        using var directory = CopyFixture("llama-tiny", "qv-r8");
        EditConfig(directory, "\"bias\": \"none\"", "\"bias\": \"all\"");
        RewriteWeights(directory, tensors =>
        {
            tensors["base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"] = torch.zeros(64, 8);
            tensors.Remove("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight");
            tensors["base_model.model.model.norm.lora_A.weight"] = torch.zeros(8, 64);
        });

        var error = Assert.Throws<InvalidAdapterException>(() => LoraAdapterLoader.Load(directory.Path, "broken", FixtureModels.Llama, torch.ScalarType.Float32));
        Assert.Equal(4, error.Problems.Count);
        Assert.Contains("bias 'all'", error.Message);
        Assert.Contains("lora_B [64, 8] should be [32, r]", error.Message);
        Assert.Contains("has lora_B but no lora_A", error.Message);
        Assert.Contains("module 'model.norm'", error.Message);
        Assert.Contains("'broken'", error.Message);
    }

    private static TemporaryDirectory CopyFixture(string model, string adapter)
    {
        var directory = new TemporaryDirectory();
        foreach (string file in Directory.GetFiles(FixtureModels.AdapterDirectory(model, adapter)))
        {
            File.Copy(file, directory.File(Path.GetFileName(file)));
        }

        return directory;
    }

    private static void EditConfig(TemporaryDirectory directory, string original, string replacement)
    {
        string path = directory.File(LoraAdapterLoader.ConfigFileName);
        string text = File.ReadAllText(path);
        Assert.Contains(original, text);
        File.WriteAllText(path, text.Replace(original, replacement, StringComparison.Ordinal));
    }

    private static void RewriteWeights(TemporaryDirectory directory, Action<Dictionary<string, torch.Tensor>> edit)
    {
        using var scope = torch.NewDisposeScope();
        string path = directory.File(LoraAdapterLoader.WeightsFileName);
        Dictionary<string, torch.Tensor> tensors;
        using (var file = SafetensorsFile.Open(path))
        {
            tensors = file.Tensors.Keys.ToDictionary(name => name, name => file.Read(name));
        }

        edit(tensors);
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    private static void AssertRefused(TemporaryDirectory directory, BaseModelSpec spec, params string[] fragments)
    {
        var error = Assert.Throws<InvalidAdapterException>(() => LoraAdapterLoader.Load(directory.Path, "under-test", spec, torch.ScalarType.Float32));
        Assert.Equal("under-test", error.AdapterName);
        Assert.All(fragments, fragment => Assert.Contains(fragment, error.Message));
    }
}
