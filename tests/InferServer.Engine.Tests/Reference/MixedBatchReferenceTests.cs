using InferServer.Engine.Models.Loading;
using InferServer.Demo;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Tests.Models;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// One batch mixing base rows and rows of every llama demo adapter (different ranks, patterns, layers and targets)
/// gives each row exactly what it gets alone. 1e-5 allows only float32 reassociation between batch shapes.
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class MixedBatchReferenceTests(DemoModels demo)
{
    private const double SoloTolerance = 1e-5;

    [Fact]
    public void MixedBatch_GivesEachRowItsSoloLogitsAndGreedyContinuation()
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(demo.Directory(DemoModelKind.Llama), ModelLoadOptions.Cpu);
        using var pooled = new PooledAdapters(model,
            [.. ReferenceCases.LlamaAdapters.Select(adapter => demo.AdapterDirectory(DemoModelKind.Llama, adapter))]);
        using var harness = new CausalHarness(model, ReferenceCases.SlotsPerSequence);
        var prompts = ReferenceCases.Prompts(demo, DemoModelKind.Llama);
        // Every adapter slot and two base rows, prompts of different lengths interleaved, one prompt under several adapters.
        int[] slots = [3, 0, 1, 6, 2, 0, 5, 4, 1];
        long[][] rows = [.. slots.Select((_, i) => prompts[i % prompts.Length])];

        var batchLogits = harness.LastLogits(rows, slots);
        var batchGreedy = harness.Greedy(rows, slots, 8);

        for (var i = 0; i < rows.Length; i++)
        {
            var solo = harness.LastLogits([rows[i]], [slots[i]])[0];
            var difference = TensorAssert.MaxDifference(Array.ConvertAll(solo, l => (double)l), batchLogits[i]);
            Assert.True(difference <= SoloTolerance, $"row {i} (slot {slots[i]}): {difference:E3} from its solo logits");
            Assert.Equal(harness.Greedy([rows[i]], [slots[i]], 8)[0], batchGreedy[i]);
        }
        // Rows 0, 3 and 6 hold the same prompt under slots 3, 6 and 5: each row really got its own adapter.
        Assert.True(TensorAssert.MaxDifference(Array.ConvertAll(batchLogits[0], l => (double)l), batchLogits[3]) > 1e-3);
        Assert.True(TensorAssert.MaxDifference(Array.ConvertAll(batchLogits[3], l => (double)l), batchLogits[6]) > 1e-3);
    }
}
