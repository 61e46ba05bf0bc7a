using InferServer.Demo;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Models.Loading;
using InferServer.Engine.Tests.Models;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// The newer families' checkpoints as Hugging Face directories hold them: the demos are bfloat16 on disk; the same weights
/// sharded in float32 (model-0000N-of-0000M.safetensors + model.safetensors.index.json) serve the very same logits, and
/// saved in float16 serve what their own float64 reference gives.
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class CheckpointFormatsReferenceTests(DemoModels demo)
{
    private const double LogitTolerance = 1e-4;

    [Theory]
    [InlineData(DemoModelKind.Gemma2)]
    [InlineData(DemoModelKind.Gemma3)]
    [InlineData(DemoModelKind.Phi3)]
    [InlineData(DemoModelKind.Phi4Mini)]
    [InlineData(DemoModelKind.Qwen3)]
    public void Checkpoint_ShardedInFloat32OrSavedInFloat16_LoadsToTheSameLogits(DemoModelKind kind)
    {
        var directory = demo.Directory(kind);
        using var scratch = new TemporaryDirectory();
        var sharded = CheckpointCopies.Write(directory, scratch.File("sharded-f32"), ScalarType.Float32, shards: 3);
        var half = CheckpointCopies.Write(directory, scratch.File("f16"), ScalarType.Float16, shards: 1);
        using var original = (ICausalLanguageModel)ModelLoader.Load(directory, ModelLoadOptions.Cpu);
        using var fromShards = (ICausalLanguageModel)ModelLoader.Load(sharded, ModelLoadOptions.Cpu);
        using var fromHalf = (ICausalLanguageModel)ModelLoader.Load(half, ModelLoadOptions.Cpu);
        using var originalHarness = new CausalHarness(original, ReferenceCases.SlotsPerSequence);
        using var shardHarness = new CausalHarness(fromShards, ReferenceCases.SlotsPerSequence);
        using var halfHarness = new CausalHarness(fromHalf, ReferenceCases.SlotsPerSequence);
        Func<long[], double[]> halfReference;
        IDisposable reference;
        if (kind is DemoModelKind.Gemma2 or DemoModelKind.Gemma3)
        {
            var gemma = ReferenceGemma.Load(half);
            (halfReference, reference) = (prompt => gemma.LastLogits(prompt), gemma);
        }
        else
        {
            var llama = ReferenceLlama.Load(half);
            (halfReference, reference) = (prompt => llama.LastLogits(prompt), llama);
        }

        using (reference)
        {
            foreach (var prompt in ReferenceCases.Prompts(demo, kind))
            {
                // bfloat16 → float32 is exact, so the shards hold the very same numbers.
                Assert.Equal(originalHarness.LastLogits([prompt], [0])[0], shardHarness.LastLogits([prompt], [0])[0]);
                var difference = TensorAssert.MaxDifference(halfReference(prompt), halfHarness.LastLogits([prompt], [0])[0]);
                Assert.True(difference <= LogitTolerance, $"{kind} float16 checkpoint, {prompt.Length} tokens: {difference:E3}");
            }
        }
    }
}
