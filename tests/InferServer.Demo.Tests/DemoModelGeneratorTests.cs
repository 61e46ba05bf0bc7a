using InferServer.Engine.Tests;
using InferServer.Engine.Models.Loading;
using InferServer.AdapterStore.Peft;
using InferServer.Demo;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Tests.Models;
using InferServer.Engine.Tests.Reference;
using InferServer.Engine.Tokenization;
using static TorchSharp.torch;

namespace InferServer.Demo.Tests;

[Collection(DemoModelsCollection.Name)]
public sealed class DemoModelGeneratorTests(DemoModels demo)
{
    public static TheoryData<DemoModelKind> Kinds => new(DemoModelGenerator.Kinds);

    public static TheoryData<DemoModelKind, string> Adapters
    {
        get
        {
            var data = new TheoryData<DemoModelKind, string>();
            foreach (var kind in DemoModelGenerator.Kinds)
                foreach (var adapter in AdapterNames(kind))
                    data.Add(kind, adapter);
            return data;
        }
    }

    private static string[] AdapterNames(DemoModelKind kind) => kind switch
    {
        DemoModelKind.Llama => ["chat-r8", "sql-r16", "summarize-r4-rslora", "support-rank-pattern", "layer1-only", "regex-targets"],
        DemoModelKind.Qwen2 => ["chat-r8"],
        DemoModelKind.Llama3 => ["all-r8"],
        DemoModelKind.Qwen3 => ["chat-r8", "all-linear-r4", "dora-r8", "embed-head-r4"],
        DemoModelKind.Gpt2 => ["attn-r8", "all-r4-rslora"],
        DemoModelKind.Bert => ["sentiment-cls2", "topic-cls3"],
        DemoModelKind.Gemma2 or DemoModelKind.Gemma3 => ["chat-r8", "all-linear-r4", "dora-r8", "embed-head-r4"],
        DemoModelKind.Phi3 => ["qkv-o-r8", "all-linear-r4", "dora-r8", "embed-head-r4"],
        DemoModelKind.Phi4Mini => ["qkv-gate-up-r8", "all-linear-r4", "dora-r8", "embed-head-r4"],
        DemoModelKind.LlamaClassifier => ["sentiment-cls2", "topic-dora-cls4", "reward-all-linear-cls1", "embed-cls3", "decoder-only-r8"],
        DemoModelKind.Qwen3Classifier => ["intent-all-linear-cls3", "spam-dora-cls2"],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryKind_LoadsThroughTheModelLoaderWithTheArchitectureItsConfigNames(DemoModelKind kind)
    {
        using var model = ModelLoader.Load(demo.Directory(kind), ModelLoadOptions.Cpu);

        // Every module PEFT can wrap: 7 projections per Llama layer + lm_head + embed_tokens; GPT-2's 4 Conv1D per block +
        // the tied lm_head + wte + wpe; BERT's 6 per layer + pooler.dense + word, position and token-type embeddings; a
        // decoder classifier has no lm_head (its score is modules_to_save, never a LoRA target).
        var (modelType, layers, modules) = kind switch
        {
            DemoModelKind.Gemma2 => ("gemma2", 4, 30),
            DemoModelKind.Gemma3 => ("gemma3_text", 4, 30),
            DemoModelKind.Phi3 or DemoModelKind.Phi4Mini => ("phi3", 2, 10),
            DemoModelKind.LlamaClassifier => ("llama", 2, 15),
            DemoModelKind.Qwen3Classifier => ("qwen3", 2, 15),
            DemoModelKind.Llama => ("llama", 2, 16),
            DemoModelKind.Qwen2 => ("qwen2", 2, 16),
            DemoModelKind.Llama3 => ("llama", 2, 16),
            DemoModelKind.Qwen3 => ("qwen3", 2, 16),
            DemoModelKind.Gpt2 => ("gpt2", 2, 11),
            _ => ("bert", 2, 16),
        };
        Assert.Equal(modelType, model.ModelType);
        Assert.Equal(layers, model.LayerCount);
        Assert.Equal(modules, model.AdaptableModules.Count);
        if (kind is DemoModelKind.Bert or DemoModelKind.LlamaClassifier)
            Assert.Equal(["negative", "neutral", "positive"], Assert.IsAssignableFrom<ISequenceClassifier>(model).Labels);
        else if (kind == DemoModelKind.Qwen3Classifier)
            Assert.Equal(["LABEL_0", "LABEL_1"], Assert.IsAssignableFrom<ISequenceClassifier>(model).Labels);
        else
            Assert.Equal(DemoTokenizerFiles.Gpt2VocabularySize, Assert.IsAssignableFrom<ICausalLanguageModel>(model).Shape.VocabularySize);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryKind_HasATokenizerWhoseIdsFitTheModel(DemoModelKind kind)
    {
        var tokenizer = TokenizerLoader.Load(demo.Directory(kind));

        var expected = kind == DemoModelKind.Bert ? DemoTokenizerFiles.BertVocabularySize : DemoTokenizerFiles.Gpt2VocabularySize;
        Assert.Equal(expected, tokenizer.VocabularySize);
        Assert.All(tokenizer.Encode("hello world, the quick brown fox", addSpecialTokens: true), id => Assert.InRange(id, 0, expected - 1));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryKind_WritesItsNamedAdapters(DemoModelKind kind)
    {
        Assert.Equal(AdapterNames(kind), demo.Written.Single(m => m.Kind == kind).Adapters);
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public void EveryDemoAdapter_LoadsAgainstItsModelsSpec(DemoModelKind kind, string adapterName)
    {
        using var model = ModelLoader.Load(demo.Directory(kind), ModelLoadOptions.Cpu);

        using var adapter = LoraAdapterLoader.Load(demo.AdapterDirectory(kind, adapterName), adapterName, BaseModelSpecs.From(model), ScalarType.Float32);

        Assert.NotEmpty(adapter.Modules);
        Assert.All(adapter.Modules.Values, m => Assert.NotEqual(0, m.B.abs().max().item<float>()));
    }

    [Fact]
    public void DemoLlamaAdapters_CoverRanksPatternsLayersAndRegexTargetsAsPeftWouldApplyThem()
    {
        using var model = ModelLoader.Load(demo.Directory(DemoModelKind.Llama), ModelLoadOptions.Cpu);
        var spec = BaseModelSpecs.From(model);
        LoraAdapter Load(string name) => LoraAdapterLoader.Load(demo.AdapterDirectory(DemoModelKind.Llama, name), name, spec, ScalarType.Float32);

        using (var chat = Load("chat-r8"))
        {
            Assert.Equal(4, chat.Modules.Count);
            Assert.All(chat.Modules.Values, m => Assert.Equal((8, 2.0), (m.Rank, m.Scale)));
        }
        using (var sql = Load("sql-r16"))
            Assert.Equal(14, sql.Modules.Count);
        using (var rslora = Load("summarize-r4-rslora"))
            Assert.All(rslora.Modules.Values, m => Assert.Equal((4, 4.0), (m.Rank, m.Scale))); // 8 / sqrt(4)
        using (var patterned = Load("support-rank-pattern"))
        {
            Assert.Equal((4, 4.0), (patterned.Modules["model.layers.0.self_attn.o_proj"].Rank, patterned.Modules["model.layers.0.self_attn.o_proj"].Scale));
            Assert.Equal((16, 0.5), (patterned.Modules["model.layers.1.self_attn.q_proj"].Rank, patterned.Modules["model.layers.1.self_attn.q_proj"].Scale));
            Assert.Equal((8, 2.0), (patterned.Modules["model.layers.0.self_attn.q_proj"].Rank, patterned.Modules["model.layers.0.self_attn.q_proj"].Scale));
            Assert.Equal(16, patterned.MaxRank);
        }
        using (var layer1 = Load("layer1-only"))
            Assert.Equal(["model.layers.1.mlp.down_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"],
                layer1.Modules.Keys.Order(StringComparer.Ordinal));
        using var regex = Load("regex-targets");
        Assert.Equal(
            ["model.layers.0.mlp.up_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.o_proj",
             "model.layers.1.mlp.up_proj", "model.layers.1.self_attn.k_proj", "model.layers.1.self_attn.o_proj"],
            regex.Modules.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void DemoGpt2Adapters_TargetBothConv1DProjectionsNamedCProj()
    {
        using var model = ModelLoader.Load(demo.Directory(DemoModelKind.Gpt2), ModelLoadOptions.Cpu);
        using var adapter = LoraAdapterLoader.Load(demo.AdapterDirectory(DemoModelKind.Gpt2, "all-r4-rslora"), "all", BaseModelSpecs.From(model), ScalarType.Float32);

        Assert.True(adapter.Config.FanInFanOut);
        Assert.Equal(8, adapter.Modules.Count);
        Assert.Equal([4, 96], adapter.Modules["transformer.h.0.attn.c_attn"].B.shape.Reverse());
        Assert.Equal([32, 4], adapter.Modules["transformer.h.1.mlp.c_proj"].B.shape);
    }

    [Fact]
    public void DemoBertAdapters_BringTheirOwnHeadsAndLabels()
    {
        using var model = ModelLoader.Load(demo.Directory(DemoModelKind.Bert), ModelLoadOptions.Cpu);
        var spec = BaseModelSpecs.From(model);

        using var two = LoraAdapterLoader.Load(demo.AdapterDirectory(DemoModelKind.Bert, "sentiment-cls2"), "two", spec, ScalarType.Float32);
        using var three = LoraAdapterLoader.Load(demo.AdapterDirectory(DemoModelKind.Bert, "topic-cls3"), "three", spec, ScalarType.Float32);

        Assert.Equal(["negative", "positive"], two.Classifier!.Labels);
        Assert.Equal([2, 32], two.Classifier.Weight.shape);
        Assert.Equal(["LABEL_0", "LABEL_1", "LABEL_2"], three.Classifier!.Labels);
        Assert.Equal([3], three.Classifier.Bias!.shape);
    }

    [Fact]
    public void DemoBertAdapter_ChangesTheClassProbabilitiesOfItsRows()
    {
        using var model = (ISequenceClassifier)ModelLoader.Load(demo.Directory(DemoModelKind.Bert), ModelLoadOptions.Cpu);
        var tokenizer = TokenizerLoader.Load(demo.Directory(DemoModelKind.Bert));
        long[] input = [.. tokenizer.Encode("the quick brown fox jumps over the lazy dog", addSpecialTokens: true).Select(id => (long)id)];
        using var pooled = new PooledAdapters(model, demo.AdapterDirectory(DemoModelKind.Bert, "topic-cls3"));
        using var scope = NewDisposeScope();
        using var lora = Kernels.Lora.LoraBatch.Create(Enumerable.Repeat(1, input.Length).ToArray(), model.Device);

        var baseProbabilities = model.BaseClassifier(model.Pool(EncoderTestBatch.Of([input]))).softmax(-1);
        var adapted = nn.functional.linear(model.Pool(EncoderTestBatch.Of([input], lora)), pooled.Adapters[0].Classifier!.Weight,
            pooled.Adapters[0].Classifier!.Bias).softmax(-1);

        Assert.Equal([1, 3], adapted.shape);
        Assert.True((adapted - baseProbabilities).abs().max().item<float>() > 1e-3, "the adapter's head and LoRA should move the probabilities");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SameSeed_WritesByteIdenticalFiles_AndAnotherSeedDifferentWeights(DemoModelKind kind)
    {
        using var scratch = new TemporaryDirectory();
        var again = DemoModelGenerator.Write(scratch.File("again"), kind, seed: 0);
        var other = DemoModelGenerator.Write(scratch.File("other"), kind, seed: 1);

        var files = FilesUnder(demo.Directory(kind));
        Assert.Equal(files, FilesUnder(again.Directory));
        Assert.All(files, file => Assert.Equal(File.ReadAllBytes(Path.Combine(demo.Directory(kind), file)),
            File.ReadAllBytes(Path.Combine(again.Directory, file))));
        Assert.All(files.Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal)), file => Assert.NotEqual(
            File.ReadAllBytes(Path.Combine(demo.Directory(kind), file)), File.ReadAllBytes(Path.Combine(other.Directory, file))));
    }

    [Fact]
    public void AllDemos_TogetherStayUnderFortyMegabytes()
    {
        var total = demo.Written.Sum(m => m.Bytes);

        Assert.Equal(FilesUnder(demo.Root).Sum(f => new FileInfo(Path.Combine(demo.Root, f)).Length), total);
        // 32 MB before the qwen3 demo, which adds its GPT-2 tokenizer files (1.5 MB), a 50,257-row embedding and an adapter
        // with LoRA on that embedding and on the tied head (0.8 MB each in float32). The gemma2, gemma3 and the two decoder
        // classifier demos (and phi3) add the same per model (tokenizer files, a 3.2 MB bfloat16 embedding, embedding adapters);
        // phi4mini too (77.7 MB with it).
        Assert.True(total < 80_000_000, $"the demos take {total:N0} bytes");
    }

    [Fact]
    public void TenantAdapters_CycleTheGivenRanks_UnderTheGivenPrefix()
    {
        using var scratch = new TemporaryDirectory();
        var directory = scratch.File("tenants");

        var names = DemoModelGenerator.WriteTenantAdapters(directory, DemoModelKind.Llama, 5, [8, 16], ["q_proj", "v_proj"], "mixed-");

        Assert.Equal(["mixed-000", "mixed-001", "mixed-002", "mixed-003", "mixed-004"], names);
        var ranks = names.Select(name => PeftLoraConfig.Parse(File.ReadAllText(Path.Combine(directory, name, "adapter_config.json"))).R).ToArray();
        Assert.Equal([8, 16, 8, 16, 8], ranks);
    }

    [Fact]
    public void Gpt2DemoTokenizer_RoundTripsText()
    {
        var tokenizer = TokenizerLoader.Load(demo.Directory(DemoModelKind.Gpt2));
        const string text = "Hello world! LoRA adapters, served side by side.";

        var ids = tokenizer.Encode(text, addSpecialTokens: false);

        Assert.Equal([15496, 995], ids.Take(2));
        Assert.Equal(text, tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void LlamaDemo_GeneratesValidTokenIdsThatDecodeToText_AndAnAdapterChangesThem()
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(demo.Directory(DemoModelKind.Llama), ModelLoadOptions.Cpu);
        var tokenizer = TokenizerLoader.Load(demo.Directory(DemoModelKind.Llama));
        long[] prompt = [.. tokenizer.Encode("Once upon a time", addSpecialTokens: false).Select(id => (long)id)];
        using var pooled = new PooledAdapters(model, demo.AdapterDirectory(DemoModelKind.Llama, "sql-r16"));
        using var harness = new CausalHarness(model);

        var generated = harness.Greedy([prompt, prompt], [0, 1], 8);

        Assert.All(generated.SelectMany(g => g), id => Assert.InRange(id, 0, DemoTokenizerFiles.Gpt2VocabularySize - 1));
        Assert.False(string.IsNullOrEmpty(tokenizer.Decode(generated[0].Select(id => (int)id), skipSpecialTokens: false)));
        Assert.NotEqual(generated[0], generated[1]);
    }

    private static string[] FilesUnder(string directory) =>
        [.. Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(directory, f)).Order(StringComparer.Ordinal)];
}
