using InferServer.Engine.Composition;
using InferServer.AdapterStore.Configuration;
using InferServer.Demo;
using InferServer.Engine;
using InferServer.Demo.Import;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace InferServer.Demo.Tests.Import;

/// <summary>
/// all-MiniLM-L6-v2 imported once per test run (make-demo --kind minilm, with its demo adapters) and ONNX Runtime
/// running the package's own model.onnx: the reference every MiniLM test compares the server with.
/// </summary>
public sealed class MiniLmFixture : IDisposable
{
    private readonly TemporaryDirectory directory = new();

    public MiniLmFixture()
    {
        DemoModelGenerator.Write(Directory, DemoModelKind.MiniLm);
        OnnxBytes = ManagedResources.Read(MiniLmPackage.LocateAssembly(), MiniLmPackage.ModelResource);
        Reference = NewSession(OnnxBytes);
    }

    /// <summary>The imported model directory (adapters under adapters/).</summary>
    public string Directory => directory.Path;

    /// <summary>The package's model.onnx.</summary>
    public byte[] OnnxBytes { get; }

    /// <summary>ONNX Runtime on the unmodified graph.</summary>
    public InferenceSession Reference { get; }

    /// <summary>An ONNX Runtime session over <paramref name="onnx"/> on two threads, as the benchmark machine has.</summary>
    public static InferenceSession NewSession(byte[] onnx) =>
        new(onnx, new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1 });

    /// <summary>An engine serving the imported model with its demo adapters.</summary>
    public Task<InferenceEngineRuntime> StartEngine(EngineOptions? options = null) =>
        EngineComposition.StartAsync((options ?? new EngineOptions()) with { ModelPath = Directory },
            new AdapterStoreOptions { AdapterRoots = [Path.Combine(Directory, "adapters")], DeviceSlots = 4, MaxRank = 16 },
            NullLoggerFactory.Instance, TimeProvider.System);

    /// <summary>ONNX Runtime's outputs for one tokenized text: last_hidden_state [tokens, hidden] and the pooler output [hidden].</summary>
    public static (float[][] LastHidden, float[] Pooled) Run(InferenceSession session, IReadOnlyList<int> ids)
    {
        long[] shape = [1, ids.Count];
        var inputs = new[]
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids.Select(i => (long)i).ToArray(), [1, ids.Count])),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(Enumerable.Repeat(1L, ids.Count).ToArray(), [1, ids.Count])),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[ids.Count], [1, ids.Count])),
        };
        using var outputs = session.Run(inputs);
        var hidden = outputs.First(o => o.Name == "last_hidden_state").AsTensor<float>();
        var pooled = outputs.First(o => o.Name != "last_hidden_state").AsTensor<float>();
        var width = hidden.Dimensions[2];
        var rows = Enumerable.Range(0, ids.Count).Select(t => Enumerable.Range(0, width).Select(h => hidden[0, t, h]).ToArray()).ToArray();
        return (rows, Enumerable.Range(0, width).Select(h => pooled[0, h]).ToArray());
    }

    /// <summary>sentence-transformers' output: mean over tokens, then L2-normalised (in float64).</summary>
    public static double[] MeanPooledNormalized(float[][] lastHidden)
    {
        var mean = Enumerable.Range(0, lastHidden[0].Length).Select(h => lastHidden.Average(row => (double)row[h])).ToArray();
        var norm = Math.Max(Math.Sqrt(mean.Sum(v => v * v)), 1e-12);
        return mean.Select(v => v / norm).ToArray();
    }

    public void Dispose()
    {
        Reference.Dispose();
        directory.Dispose();
    }
}

/// <summary>MiniLM tests share one import and run one at a time with the other engine tests (two cores).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MiniLmCollection : ICollectionFixture<MiniLmFixture>
{
    public const string Name = "MiniLM";
}
