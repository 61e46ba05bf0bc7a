using InferServer.Engine.Models.Loading;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Google.Protobuf;
using InferServer.Demo.Import;
using InferServer.Demo.Import.Onnx;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Bert;
using InferServer.Engine.Models.Common;

namespace InferServer.Demo.Tests.Import;

/// <summary>The ONNX → Hugging Face import of all-MiniLM-L6-v2: names, config, determinism, refusals.</summary>
[Collection(MiniLmCollection.Name)]
public sealed class MiniLmImportTests(MiniLmFixture fixture)
{
    [Fact]
    public void Import_WritesAStandardBertModelDirectory_ThatLoadsWithEveryKeyAndShape()
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(fixture.Directory, "config.json")))!;
        Assert.Equal("BertModel", config["architectures"]![0]!.GetValue<string>());
        Assert.Equal(384, config["hidden_size"]!.GetValue<int>());
        Assert.Equal(6, config["num_hidden_layers"]!.GetValue<int>());
        Assert.Equal(12, config["num_attention_heads"]!.GetValue<int>());
        Assert.Equal(1536, config["intermediate_size"]!.GetValue<int>());
        Assert.Equal(1e-12, config["layer_norm_eps"]!.GetValue<double>());
        Assert.True(JsonNode.Parse(File.ReadAllText(Path.Combine(fixture.Directory, "tokenizer_config.json")))!["do_lower_case"]!.GetValue<bool>());
        Assert.True(JsonNode.Parse(File.ReadAllText(Path.Combine(fixture.Directory, "1_Pooling", "config.json")))!["pooling_mode_mean_tokens"]!.GetValue<bool>());

        // The loader compares the full key set and every shape before copying anything.
        using var model = (BertTextEncoder)ModelLoader.Load(fixture.Directory, ModelLoadOptions.Cpu);
        Assert.True(model.Embedding.NormalizeByDefault);
        Assert.False(model.HasBaseClassifier);
        // 6 layers × 6 projections, the pooler's dense and the three embedding tables: what PEFT can wrap.
        Assert.Equal(6 * 6 + 1 + 3, model.AdaptableModules.Count);
    }

    [Fact]
    public void Import_IsDeterministic()
    {
        using var again = new TemporaryDirectory();
        MiniLmImport.Write(again.Path);
        foreach (var file in new[] { "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "modules.json", "1_Pooling/config.json" })
            Assert.Equal(Hash(Path.Combine(fixture.Directory, file)), Hash(again.File(file)));
    }

    [Fact]
    public void Import_NamesEachMatMulWeightAfterItsBias_Transposed()
    {
        var imported = BertOnnxGraph.Read(fixture.OnnxBytes);
        var graph = ModelProto.Parser.ParseFrom(fixture.OnnxBytes).Graph;
        var query = imported.Tensors.Single(t => t.Name == "encoder.layer.0.attention.self.query.weight");
        var add = graph.Node.Single(n => n.OpType == "Add" && n.Input.Contains("encoder.layer.0.attention.self.query.bias"));
        var matMul = graph.Node.Single(n => n.OpType == "MatMul" && add.Input.Contains(n.Output[0]));
        var stored = graph.Initializer.Single(t => t.Name == matMul.Input[1]).RawData.ToByteArray();
        Assert.Equal([384L, 384L], query.Shape);
        // Initializer [in, out] row-major: element (i, o) at i·384 + o; the HF weight [out, in] holds it at o·384 + i.
        foreach (var (i, o) in new[] { (0, 1), (5, 300), (383, 2) })
            Assert.Equal(BitConverter.ToSingle(stored, (i * 384 + o) * 4), query.Data[o * 384 + i]);
        Assert.DoesNotContain(imported.Tensors, t => t.Name == "embeddings.position_ids" || !t.Name.Contains('.', StringComparison.Ordinal));
        Assert.Equal(5 + 6 * 16 + 2, imported.Tensors.Count);
    }

    [Fact]
    public void Import_RefusesAnOpItDoesNotKnow_NamingTheNode()
    {
        var model = ModelProto.Parser.ParseFrom(fixture.OnnxBytes);
        var erf = model.Graph.Node.First(n => n.OpType == "Erf");
        erf.OpType = "FastGelu";
        var error = Assert.Throws<OnnxImportException>(() => BertOnnxGraph.Read(model.ToByteArray()));
        Assert.Contains($"'{erf.Name}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("FastGelu", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_RefusesAMatMulWeightWithoutItsBias_NamingTheNode()
    {
        var model = ModelProto.Parser.ParseFrom(fixture.OnnxBytes);
        var matMul = model.Graph.Node.First(n => n.OpType == "MatMul" && model.Graph.Initializer.Any(t => t.Name == n.Input[1]));
        model.Graph.Node.Single(n => n.OpType == "Add" && n.Input.Contains(matMul.Output[0])).OpType = "Sub";
        var error = Assert.Throws<OnnxImportException>(() => BertOnnxGraph.Read(model.ToByteArray()));
        Assert.Contains($"'{matMul.Name}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_RefusesBytesThatAreNotOnnx() =>
        Assert.Throws<OnnxImportException>(() => BertOnnxGraph.Read([0xff, 0xff, 0xff, 0x01, 0x02]));

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}
