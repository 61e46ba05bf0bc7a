using InferServer.Engine.Tests;
using InferServer.AdapterStore.Peft;
using InferServer.Demo;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Models.Loading;
using InferServer.Engine.Tokenization;
using static TorchSharp.torch;

namespace InferServer.Demo.Tests;

/// <summary>The qwen3 demo: Qwen3's real chat template, and adapters of every kind PEFT writes for such a model.</summary>
[Collection(DemoModelsCollection.Name)]
public sealed class Qwen3DemoTests(DemoModels demo)
{
    [Fact]
    public void Qwen3Demo_ShipsQwen3sChatTemplate_ByteForByte_AndItsTokenizerReadsIt()
    {
        var shipped = File.ReadAllText(RepositoryFiles.Path("tests", "InferServer.Jinja.Tests", "ChatTemplates", "qwen3-0.6b.jinja"));

        var tokenizer = TokenizerLoader.Load(demo.Directory(DemoModelKind.Qwen3));

        Assert.Equal(shipped, tokenizer.ChatTemplate);
        Assert.Null(TokenizerLoader.Load(demo.Directory(DemoModelKind.Qwen2)).ChatTemplate);
    }

    [Fact]
    public void Qwen3DemoAdapters_AreLoraAllLinearDoraAndEmbeddingPlusTiedHead_AsPeftWouldSaveThem()
    {
        using var model = ModelLoader.Load(demo.Directory(DemoModelKind.Qwen3), ModelLoadOptions.Cpu);
        var spec = BaseModelSpecs.From(model);
        LoraAdapter Load(string name) => LoraAdapterLoader.Load(demo.AdapterDirectory(DemoModelKind.Qwen3, name), name, spec, ScalarType.Float32);

        using (var chat = Load("chat-r8"))
            Assert.Equal(8, chat.Modules.Count);
        using (var allLinear = Load("all-linear-r4"))
        {
            // Every projection of both layers; not the embedding, not the output head, never q_norm/k_norm.
            Assert.Equal(14, allLinear.Modules.Count);
            Assert.DoesNotContain("lm_head", allLinear.Modules.Keys);
            Assert.DoesNotContain("model.embed_tokens", allLinear.Modules.Keys);
        }
        using (var dora = Load("dora-r8"))
        {
            Assert.Equal(8, dora.Modules.Count);
            Assert.All(dora.Modules.Values, module => Assert.NotNull(module.Dora));
        }
        using var embedHead = Load("embed-head-r4");
        Assert.Equal(["lm_head", "model.embed_tokens", "model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj"],
            embedHead.Modules.Keys.Order(StringComparer.Ordinal));
    }
}
