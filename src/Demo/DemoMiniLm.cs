using System.Text.Json.Nodes;
using InferServer.AdapterStore.Peft;
using static TorchSharp.torch;

namespace InferServer.Demo;

/// <summary>
/// The all-MiniLM-L6-v2 demo: real weights (imported, so the plan lists no tensors to draw) and two seeded demo adapters
/// on its encoder, so Embed and Classify can be tried with adapters: one LoRA for embeddings (FEATURE_EXTRACTION), one
/// SEQ_CLS adapter whose own head reads the pooler output. The adapters are random: they show the mechanics, not a task.
/// </summary>
internal static class DemoMiniLm
{
    private const int Hidden = 384;
    private const int Layers = 6;
    private const int Intermediate = 1536;

    public static DemoModelPlan Plan()
    {
        var modules = new Dictionary<string, LinearModuleShape>(StringComparer.Ordinal);
        for (var layer = 0; layer < Layers; layer++)
        {
            foreach (var name in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                modules.Add($"encoder.layer.{layer}.{name}", new LinearModuleShape(Hidden, Hidden));
            }

            modules.Add($"encoder.layer.{layer}.intermediate.dense", new LinearModuleShape(Hidden, Intermediate));
            modules.Add($"encoder.layer.{layer}.output.dense", new LinearModuleShape(Intermediate, Hidden));
        }
        DemoAdapter[] adapters =
        [
            new("embed-r8", Rank: 8, Alpha: 16) { TargetNames = ["query", "value"], TaskType = "FEATURE_EXTRACTION" },
            new("sentiment-cls2", Rank: 8, Alpha: 16) { TargetNames = ["query", "value"], ClassifierLabels = 2, LabelNames = ["negative", "positive"] },
            // For the load generator and k6, which name adapters prefix + three digits (--adapter-prefix cls --adapters 4).
            .. Enumerable.Range(0, 4).Select(i => new DemoAdapter($"cls{i:D3}", Rank: 8, Alpha: 16)
                { TargetNames = ["query", "value"], ClassifierLabels = 2, LabelNames = ["negative", "positive"] }),
        ];
        return new DemoModelPlan(DemoModelKind.MiniLm, new JsonObject(), null, ScalarType.Float32, [], modules, Hidden, WordPiece: true, adapters);
    }
}
