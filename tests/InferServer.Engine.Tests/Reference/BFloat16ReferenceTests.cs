using InferServer.Engine.Models.Loading;
using InferServer.Demo;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Tests.Models;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// The Llama-family demos loaded in bfloat16 (weights and adapter pools) against the float64 reference.
/// </summary>
/// <remarks>
/// The demo weights are stored in bfloat16, so loading loses nothing; the error is the rounding of activations to
/// bfloat16's 8-bit significand (relative 2⁻⁹ ≈ 0.2%) after every matmul, norm and residual add. Measured on these
/// models it is at most 7e-3 on logits spanning about ±0.7 (float32: 3e-7). <see cref="LogitTolerance"/> = 2e-2 leaves a
/// threefold margin for other CPUs' bfloat16 kernels and still fails a dropped adapter, which moves these logits by
/// 7e-2 (layer1-only) to 0.8. A greedy choice cannot flip between two logits further apart than twice
/// the tolerance, so choices are compared with float32 wherever the top-2 gap is at least <see cref="DecisiveGap"/>.
/// </remarks>
[Collection(DemoModelsCollection.Name)]
public sealed class BFloat16ReferenceTests(DemoModels demo)
{
    private const double LogitTolerance = 2e-2;

    /// <summary>Twice the logit tolerance: a gap that errors within the tolerance cannot close.</summary>
    private const double DecisiveGap = 2 * LogitTolerance;

    private static readonly ModelLoadOptions BFloat16 = new(CPU, ScalarType.BFloat16);

    public static TheoryData<DemoModelKind, string?> Cases => ReferenceCases.ModelsAndAdapters;

    [Theory]
    [MemberData(nameof(Cases))]
    public void BFloat16LastLogits_StayWithinTheDocumentedBoundOfTheReference(DemoModelKind kind, string? adapter)
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(demo.Directory(kind), BFloat16);
        using var pooled = adapter is null ? null : new PooledAdapters(model, demo.AdapterDirectory(kind, adapter));
        using var harness = new CausalHarness(model, ReferenceCases.SlotsPerSequence);
        using var reference = ReferenceLlama.Load(demo.Directory(kind));
        using var lora = adapter is null ? null : ReferenceLora.Load(demo.AdapterDirectory(kind, adapter));

        Assert.Equal(ScalarType.BFloat16, model.DType);
        foreach (var prompt in ReferenceCases.Prompts(demo, kind))
        {
            var difference = TensorAssert.MaxDifference(reference.LastLogits(prompt, lora), harness.LastLogits([prompt], [adapter is null ? 0 : 1])[0]);
            Assert.True(difference <= LogitTolerance, $"{kind}/{adapter ?? "base"}, {prompt.Length} tokens: {difference:E3} > {LogitTolerance:E0}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BFloat16Greedy_MatchesFloat32WhereTheTopTwoGapIsDecisive(DemoModelKind kind, string? adapter)
    {
        using var single = (ICausalLanguageModel)ModelLoader.Load(demo.Directory(kind), ModelLoadOptions.Cpu);
        using var half = (ICausalLanguageModel)ModelLoader.Load(demo.Directory(kind), BFloat16);
        using var singlePooled = adapter is null ? null : new PooledAdapters(single, demo.AdapterDirectory(kind, adapter));
        using var halfPooled = adapter is null ? null : new PooledAdapters(half, demo.AdapterDirectory(kind, adapter));
        using var singleHarness = new CausalHarness(single, ReferenceCases.SlotsPerSequence);
        using var halfHarness = new CausalHarness(half, ReferenceCases.SlotsPerSequence);
        using var reference = ReferenceLlama.Load(demo.Directory(kind));
        using var lora = adapter is null ? null : ReferenceLora.Load(demo.AdapterDirectory(kind, adapter));
        var slot = adapter is null ? 0 : 1;

        var compared = 0;
        foreach (var prompt in ReferenceCases.Prompts(demo, kind))
        {
            var (tokens, gaps) = reference.Greedy(prompt, lora, 8);
            var singleGreedy = singleHarness.Greedy([prompt], [slot], 8)[0];
            // float32 makes the reference's choices (LlamaFamilyReferenceTests), so the reference gaps are float32's.
            Assert.Equal(tokens, singleGreedy);

            // Free-running: bfloat16 continues as float32 does up to the first step that is not decisive.
            var decisivePrefix = gaps.TakeWhile(gap => gap >= DecisiveGap).Count();
            Assert.Equal(singleGreedy.Take(decisivePrefix), halfHarness.Greedy([prompt], [slot], 8)[0].Take(decisivePrefix));

            // Teacher-forced on float32's continuation: every decisive step, not only those before the first close call.
            var halfLogits = halfHarness.AllLogits([.. prompt, .. singleGreedy[..^1]], slot);
            for (var step = 0; step < gaps.Length; step++)
            {
                if (gaps[step] < DecisiveGap)
                    continue;
                var row = halfLogits[prompt.Length - 1 + step];
                Assert.Equal(singleGreedy[step], Array.IndexOf(row, row.Max()));
                compared++;
            }
        }
        Assert.True(compared > 0, $"{kind}/{adapter ?? "base"}: no greedy step had a top-2 gap of {DecisiveGap} to compare");
    }
}
