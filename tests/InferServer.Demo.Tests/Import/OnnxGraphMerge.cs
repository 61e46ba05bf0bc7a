using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Google.Protobuf;
using InferServer.Safetensors;
using InferServer.Demo.Import.Onnx;
using static TorchSharp.torch;

namespace InferServer.Demo.Tests.Import;

/// <summary>
/// The reference for an adapter: the package's ONNX graph with W0 + s·B·A merged into its MatMul initializers (stored
/// [in, out], so the delta is added transposed), found the way the importer names them: by the bias of the following Add.
/// </summary>
public static class OnnxGraphMerge
{
    /// <summary>model.onnx with every LoRA module of the PEFT adapter in <paramref name="adapterDirectory"/> merged in.</summary>
    public static byte[] WithAdapter(byte[] onnx, string adapterDirectory)
    {
        var model = ModelProto.Parser.ParseFrom(onnx);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(adapterDirectory, "adapter_config.json")))!;
        var scale = config["lora_alpha"]!.GetValue<double>() / config["r"]!.GetValue<int>();
        using var weights = SafetensorsFile.Open(Path.Combine(adapterDirectory, "adapter_model.safetensors"));
        const string prefix = "base_model.model.";
        foreach (var key in weights.Tensors.Keys.Where(k => k.EndsWith(".lora_A.weight", StringComparison.Ordinal)))
        {
            var module = key[prefix.Length..^".lora_A.weight".Length];
            using var scope = NewDisposeScope();
            var a = weights.Read(key).to(ScalarType.Float64);
            var b = weights.Read($"{prefix}{module}.lora_B.weight").to(ScalarType.Float64);
            var deltaInOut = (b.matmul(a) * scale).t().contiguous(); // [in, out], as the initializer is stored
            var initializer = MatMulWeightOf(model.Graph, module);
            var w0 = MemoryMarshal.Cast<byte, float>(initializer.RawData.Span).ToArray();
            var delta = deltaInOut.data<double>().ToArray();
            var merged = w0.Select((w, i) => (float)(w + delta[i])).ToArray();
            initializer.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(merged.AsSpan()));
        }
        return model.ToByteArray();
    }

    private static TensorProto MatMulWeightOf(GraphProto graph, string module)
    {
        var add = graph.Node.Single(n => n.OpType == "Add" && n.Input.Contains(module + ".bias"));
        var matMul = graph.Node.Single(n => n.OpType == "MatMul" && add.Input.Contains(n.Output[0]));
        return graph.Initializer.Single(t => t.Name == matMul.Input[1]);
    }
}
