using System.Runtime.InteropServices;
using InferServer.Demo.Import.Onnx;

namespace InferServer.Demo.Import;

/// <summary>
/// Reads a BERT encoder exported to ONNX by torch.onnx (transformers' BertModel: last_hidden_state and the pooler
/// output) back into its Hugging Face checkpoint. Named initializers keep their names. torch.onnx stores every
/// nn.Linear of the encoder as an unnamed [in, out] initializer feeding a MatMul whose result goes to exactly one Add
/// with the Linear's (named) bias: the weight is named after that bias and transposed to [out, in]. The pooler is a Gemm
/// with transB = 1, whose weight is already [out, in] and named. Anything else is refused, naming the node.
/// The hyperparameters are read from the graph: head size from the 1/√d scaling, LayerNorm ε from the constant added
/// before each Sqrt, the activation from Erf (exact GELU).
/// </summary>
internal sealed class BertOnnxGraph
{
    /// <summary>Ops torch.onnx emits for BertModel at opset 13; any other op is refused.</summary>
    private static readonly HashSet<string> KnownOps =
    [
        "Add", "Cast", "Concat", "Constant", "Div", "Erf", "Gather", "Gemm", "MatMul", "Mul", "Pow", "ReduceMean",
        "Reshape", "Shape", "Slice", "Softmax", "Sqrt", "Sub", "Tanh", "Transpose", "Unsqueeze",
    ];

    private readonly GraphProto graph;
    private readonly Dictionary<string, TensorProto> initializers;
    private readonly Dictionary<string, TensorProto> constants;
    private readonly ILookup<string, NodeProto> consumers;

    private BertOnnxGraph(GraphProto graph)
    {
        this.graph = graph;
        initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        constants = graph.Node.Where(n => n.OpType == "Constant" && n.Attribute.Any(a => a.Name == "value"))
            .ToDictionary(n => n.Output[0], n => n.Attribute.First(a => a.Name == "value").T, StringComparer.Ordinal);
        consumers = graph.Node.SelectMany(n => n.Input.Select(input => (input, n))).ToLookup(p => p.input, p => p.n, StringComparer.Ordinal);
    }

    /// <summary>Parses <paramref name="onnxBytes"/> and maps its weights to Hugging Face names.</summary>
    public static ImportedBert Read(byte[] onnxBytes)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(onnxBytes);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw new OnnxImportException($"not an ONNX model: {e.Message}");
        }
        if (model.Graph is null)
        {
            throw new OnnxImportException("the ONNX model has no graph");
        }

        var reader = new BertOnnxGraph(model.Graph);
        var tensors = reader.MapWeights();
        return new ImportedBert(tensors, reader.ReadHyperparameters(tensors));
    }

    private List<ImportedTensor> MapWeights()
    {
        foreach (var node in graph.Node.Where(n => !KnownOps.Contains(n.OpType)))
        {
            throw new OnnxImportException($"node '{node.Name}' has op {node.OpType}, which a BERT encoder export does not contain");
        }

        var tensors = new List<ImportedTensor>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            if (node.OpType == "MatMul" && node.Input.Count == 2 && initializers.TryGetValue(node.Input[1], out var matrix))
            {
                var add = consumers[node.Output[0]].ToArray();
                var biasName = add is [{ OpType: "Add" } only] ? only.Input.FirstOrDefault(i => i != node.Output[0]) : null;
                if (biasName is null || !biasName.EndsWith(".bias", StringComparison.Ordinal) || !initializers.ContainsKey(biasName))
                {
                    throw new OnnxImportException(
                        $"node '{node.Name}' (MatMul by initializer '{node.Input[1]}') is not followed by exactly one Add of a named bias");
                }

                var (inFeatures, outFeatures) = Matrix(node, matrix);
                tensors.Add(new ImportedTensor(biasName[..^".bias".Length] + ".weight", [outFeatures, inFeatures],
                    Transpose(Floats(matrix, node), inFeatures, outFeatures)));
                used.Add(matrix.Name);
            }
            else if (node.OpType == "Gemm")
            {
                if (node.Attribute.FirstOrDefault(a => a.Name == "transB")?.I != 1
                    || node.Attribute.Any(a => a.Name is "alpha" or "beta" && a.F != 1) || node.Attribute.Any(a => a.Name == "transA" && a.I != 0)
                    || node.Input.Count != 3 || !initializers.ContainsKey(node.Input[1]) || !node.Input[1].EndsWith(".weight", StringComparison.Ordinal))
                {
                    throw new OnnxImportException($"node '{node.Name}' (Gemm) is not a Linear layer: expected transB = 1, alpha = beta = 1 and a named weight and bias");
                }
            }
            else if (node.OpType == "MatMul" && node.Input.Any(initializers.ContainsKey))
            {
                throw new OnnxImportException($"node '{node.Name}' multiplies by an initializer on the left, which no Linear layer does");
            }
        }
        foreach (var initializer in graph.Initializer)
        {
            if (used.Contains(initializer.Name) || initializer.DataType != (int)TensorProto.Types.DataType.Float)
            {
                continue; // int64 initializers are shape arguments and position_ids; HF checkpoints carry no weights in them.
            }

            if (!initializer.Name.Contains('.', StringComparison.Ordinal))
            {
                throw new OnnxImportException($"float initializer '{initializer.Name}' (used by node "
                    + $"'{consumers[initializer.Name].FirstOrDefault()?.Name}') has no Hugging Face name and is not a MatMul weight");
            }

            tensors.Add(new ImportedTensor(initializer.Name, [.. initializer.Dims], Floats(initializer, null)));
        }
        return tensors;
    }

    private BertHyperparameters ReadHyperparameters(List<ImportedTensor> tensors)
    {
        var byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        ImportedTensor Need(string name) => byName.TryGetValue(name, out var t) ? t
            : throw new OnnxImportException($"the graph has no initializer for '{name}'");
        var words = Need("embeddings.word_embeddings.weight");
        var hidden = (int)words.Shape[1];
        var layers = 0;
        while (byName.ContainsKey($"encoder.layer.{layers}.attention.self.query.weight"))
        {
            layers++;
        }

        if (layers == 0)
        {
            throw new OnnxImportException("the graph has no encoder.layer.0.attention.self.query weight");
        }

        // Attention scores are divided by √headSize (Div right after the Q·Kᵀ MatMul of two activations).
        var scale = graph.Node.Where(n => n.OpType == "MatMul" && !n.Input.Any(initializers.ContainsKey))
            .SelectMany(n => consumers[n.Output[0]]).Where(n => n.OpType == "Div")
            .Select(n => Scalar(n.Input[1], n)).Distinct().ToArray();
        if (scale.Length != 1)
        {
            throw new OnnxImportException($"expected one attention scale (Div after Q·Kᵀ), found {scale.Length}");
        }

        var headSize = (int)Math.Round(scale[0] * scale[0]);
        if (headSize <= 0 || hidden % headSize != 0)
        {
            throw new OnnxImportException($"attention scale {scale[0]} gives head size {headSize}, which does not divide hidden {hidden}");
        }

        var epsilons = graph.Node.Where(n => n.OpType == "Sqrt").Select(sqrt => graph.Node.First(n => n.Output.Contains(sqrt.Input[0])))
            .Select(add => add.OpType == "Add" ? Scalar(add.Input[1], add) : throw new OnnxImportException($"node '{add.Name}' before a Sqrt is not the LayerNorm ε Add"))
            .Distinct().ToArray();
        if (epsilons.Length != 1)
        {
            throw new OnnxImportException($"expected one LayerNorm epsilon, found {epsilons.Length}");
        }

        if (!graph.Node.Any(n => n.OpType == "Erf"))
        {
            throw new OnnxImportException("the graph has no Erf node: only exact GELU is understood");
        }

        return new BertHyperparameters(
            VocabSize: (int)words.Shape[0],
            HiddenSize: hidden,
            NumHiddenLayers: layers,
            NumAttentionHeads: hidden / headSize,
            IntermediateSize: (int)Need("encoder.layer.0.intermediate.dense.weight").Shape[0],
            MaxPositionEmbeddings: (int)Need("embeddings.position_embeddings.weight").Shape[0],
            TypeVocabSize: (int)Need("embeddings.token_type_embeddings.weight").Shape[0],
            LayerNormEps: epsilons[0]);
    }

    /// <summary>A float constant: a Constant node's value or a one-element initializer.</summary>
    private double Scalar(string name, NodeProto user)
    {
        var tensor = constants.GetValueOrDefault(name) ?? initializers.GetValueOrDefault(name);
        if (tensor is null || tensor.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new OnnxImportException($"node '{user.Name}' expects a float constant in '{name}'");
        }

        var values = Floats(tensor, user);
        return values.Length == 1 ? values[0] : throw new OnnxImportException($"node '{user.Name}': '{name}' is not a scalar");
    }

    private static (long In, long Out) Matrix(NodeProto node, TensorProto matrix) =>
        matrix.Dims.Count == 2 && matrix.DataType == (int)TensorProto.Types.DataType.Float
            ? (matrix.Dims[0], matrix.Dims[1])
            : throw new OnnxImportException($"node '{node.Name}': initializer '{matrix.Name}' is not a float matrix");

    private static float[] Floats(TensorProto tensor, NodeProto? user)
    {
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
        {
            throw new OnnxImportException($"initializer '{tensor.Name}' keeps its data in an external file, which is not supported");
        }

        var count = tensor.Dims.Aggregate(1L, (product, d) => product * d);
        var values = tensor.RawData.Length > 0
            ? MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray() // ONNX raw_data is little-endian, as is every host we run on.
            : [.. tensor.FloatData];
        if (values.Length != count)
        {
            throw new OnnxImportException($"initializer '{tensor.Name}'{(user is null ? "" : $" of node '{user.Name}'")} has {values.Length} values for shape [{string.Join(", ", tensor.Dims)}]");
        }

        return values;
    }

    private static float[] Transpose(float[] source, long rows, long columns)
    {
        var result = new float[source.Length];
        for (long r = 0; r < rows; r++)
        {
            for (long c = 0; c < columns; c++)
            {
                result[c * rows + r] = source[r * columns + c];
            }
        }

        return result;
    }
}
