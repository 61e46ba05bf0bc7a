using InferServer.AdapterStore.Peft;
using InferServer.Safetensors;
using TorchSharp;

namespace InferServer.AdapterStore.Tests.Peft;

/// <summary>LoRA on embeddings as PEFT saves it: <c>lora_embedding_A</c> [r, entries] and <c>lora_embedding_B</c> [hidden, r].</summary>
public sealed class EmbeddingAdapterTests : IDisposable
{
    private const string EmbedTokens = "model.embed_tokens";
    private const string Q0 = "model.layers.0.self_attn.q_proj";
    private const string Q1 = "model.layers.1.self_attn.q_proj";
    private readonly TemporaryDirectory root = new();

    public void Dispose() => root.Dispose();

    [Fact]
    public void EmbeddingAdapter_LoadsAAsRankByEntriesAndBAsHiddenByRank()
    {
        string directory = Write("embed", """{"peft_type":"LORA","r":4,"lora_alpha":8,"target_modules":["embed_tokens","q_proj"]}""",
            embeddingA: [4, 1000], embeddingB: [64, 4]);

        using var adapter = LoraAdapterLoader.Load(directory, "embed", FixtureModels.Llama, torch.ScalarType.Float32);

        Assert.Equal([EmbedTokens, Q0, Q1], adapter.Modules.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new long[] { 4, 1000 }, adapter.Modules[EmbedTokens].A.shape);
        Assert.Equal(new long[] { 64, 4 }, adapter.Modules[EmbedTokens].B.shape);
        Assert.Equal(2.0, adapter.Modules[EmbedTokens].Scale);
    }

    [Fact]
    public void MisshapenOrMisnamedEmbeddingWeights_AreRefusedNamingTheModule()
    {
        string transposed = Write("transposed", """{"peft_type":"LORA","r":4,"lora_alpha":8,"target_modules":["embed_tokens","q_proj"]}""",
            embeddingA: [1000, 4], embeddingB: [64, 4]);
        string dora = Write("dora", """{"peft_type":"LORA","r":4,"lora_alpha":8,"use_dora":true,"target_modules":["embed_tokens"]}""",
            embeddingA: [4, 1000], embeddingB: [64, 4], withQ: false);

        Assert.Contains($"module '{EmbedTokens}': lora_A [1000, 4] should be [r, 1000]", Refusal(transposed), StringComparison.Ordinal);
        Assert.Contains($"module '{EmbedTokens}': DoRA on an embedding is not supported", Refusal(dora), StringComparison.Ordinal);
    }

    private static string Refusal(string directory) =>
        Assert.Throws<InvalidAdapterException>(() => LoraAdapterLoader.Load(directory, "x", FixtureModels.Llama, torch.ScalarType.Float32)).Message;

    private string Write(string name, string config, long[] embeddingA, long[] embeddingB, bool withQ = true)
    {
        string directory = root.File(name);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, LoraAdapterLoader.ConfigFileName), config);
        using var scope = torch.NewDisposeScope();
        var tensors = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal)
        {
            [$"base_model.model.{EmbedTokens}.lora_embedding_A"] = torch.randn(embeddingA),
            [$"base_model.model.{EmbedTokens}.lora_embedding_B"] = torch.randn(embeddingB),
        };
        foreach (string module in withQ ? new[] { Q0, Q1 } : [])
        {
            tensors[$"base_model.model.{module}.lora_A.weight"] = torch.randn(4, 64);
            tensors[$"base_model.model.{module}.lora_B.weight"] = torch.randn(64, 4);
        }

        SafetensorsWriter.Write(Path.Combine(directory, LoraAdapterLoader.WeightsFileName), tensors);
        return directory;
    }
}
