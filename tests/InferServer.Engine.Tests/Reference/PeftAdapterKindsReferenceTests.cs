using InferServer.Engine.Models.Loading;
using InferServer.AdapterStore;
using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Merging;
using InferServer.AdapterStore.Registry;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Tests.Models;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// The adapter kinds beyond plain linear LoRA, served on llama-tiny and compared with the float64 reference
/// (<see cref="ReferenceLlama"/> + <see cref="ReferenceLora"/>, written from PEFT's layers): DoRA, LoRA on lm_head, and
/// a mixed batch of them with base rows, each row equal to its solo result. 1e-4 is the float32 agreement the HF
/// fixtures use for logits (tests/fixtures/README.md).
/// </summary>
public sealed class PeftAdapterKindsReferenceTests : IDisposable
{
    private const double ReferenceTolerance = 1e-4;
    // Float32 reassociation between batch shapes only (one row alone takes other matmul shapes than eight): measured 2.1e-5
    // at most here, on logits of order 1-10; the greedy continuations must still be identical.
    private const double SoloTolerance = 5e-5;
    private static readonly string[] Projections = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
    private readonly PeftAdapterFiles files = new(ReferenceFixtures.BaseDirectory("llama-tiny"), seed: 15);
    private readonly Dictionary<string, string> adapters = [];

    public PeftAdapterKindsReferenceTests()
    {
        adapters["dora-all-linear"] = files.Write("dora-all-linear", rank: 4, alpha: 8,
            [.. new[] { 0, 1 }.SelectMany(layer => Projections.Select(p => $"model.layers.{layer}.{p}"))], dora: true);
        adapters["dora-qv"] = files.Write("dora-qv", rank: 8, alpha: 16,
            ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"], dora: true);
        adapters["lm-head"] = files.Write("lm-head", rank: 4, alpha: 8, ["model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj", "lm_head"]);
        adapters["dora-lm-head"] = files.Write("dora-lm-head", rank: 2, alpha: 4, ["lm_head"], dora: true);
        adapters["embed-tokens"] = files.Write("embed-tokens", rank: 4, alpha: 8, ["model.layers.1.self_attn.v_proj"], ["model.embed_tokens"]);
        adapters["embed-only"] = files.Write("embed-only", rank: 8, alpha: 8, [], ["model.embed_tokens"]);
    }

    private static readonly string[] KindNames = ["dora-all-linear", "dora-qv", "lm-head", "dora-lm-head", "embed-tokens", "embed-only"];

    public static TheoryData<string> Kinds => [.. KindNames];

    public void Dispose() => files.Dispose();

    [Theory]
    [MemberData(nameof(Kinds))]
    public void AdapterKind_ServesThePeftLogits(string kind)
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(ReferenceFixtures.BaseDirectory("llama-tiny"), ModelLoadOptions.Cpu);
        using var pooled = new PooledAdapters(model, adapters[kind]);
        using var harness = new CausalHarness(model);
        using var reference = ReferenceLlama.Load(ReferenceFixtures.BaseDirectory("llama-tiny"));
        using var lora = ReferenceLora.Load(adapters[kind]);
        var inputs = Fixtures.Inputs("llama-tiny");

        var served = harness.LastLogits(inputs, [.. inputs.Select(_ => 1)]);

        for (var i = 0; i < inputs.Length; i++)
        {
            var expected = reference.LastLogits(inputs[i], lora);
            var difference = TensorAssert.MaxDifference(expected, served[i]);
            Assert.True(difference <= ReferenceTolerance, $"{kind}, input {i}: {difference:E3} from the reference");
            // The adapter must change the output, or agreeing would prove nothing.
            Assert.True(TensorAssert.MaxDifference(reference.LastLogits(inputs[i]), served[i]) > 1e-3, $"{kind} changes nothing");
        }
    }

    [Theory]
    [InlineData("dora-all-linear")]
    [InlineData("embed-tokens")]
    [InlineData("dora-lm-head")]
    public void MergedAdapter_GivesItsSlotLogits_AndUnmergingGivesTheBaseBackBitForBit(string kind)
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(ReferenceFixtures.BaseDirectory("llama-tiny"), ModelLoadOptions.Cpu);
        using var pooled = new PooledAdapters(model, adapters[kind]);
        using var harness = new CausalHarness(model);
        var inputs = Fixtures.Inputs("llama-tiny");
        int[] slotRows = [.. inputs.Select(_ => 1)];
        int[] baseRows = [.. inputs.Select(_ => 0)];
        var inSlot = harness.LastLogits(inputs, slotRows);
        var before = harness.LastLogits(inputs, baseRows);
        var targets = model.AdaptableModules.ToDictionary(m => m.Key, m => (ILoraTarget)m.Value, StringComparer.Ordinal);
        using var merges = new MergeCache(targets, new AdapterStoreOptions());

        merges.Activate(pooled.Adapters[0]);
        var merged = harness.LastLogits(inputs, baseRows);
        merges.Deactivate();
        var after = harness.LastLogits(inputs, baseRows);

        for (var i = 0; i < inputs.Length; i++)
        {
            var difference = TensorAssert.MaxDifference(Array.ConvertAll(inSlot[i], l => (double)l), merged[i]);
            Assert.True(difference <= ReferenceTolerance, $"{kind}, input {i}: merged {difference:E3} from the slot");
            Assert.Equal(before[i], after[i]);
        }
    }

    [Fact]
    public void MixedBatchOfDoraLmHeadEmbeddingAndBaseRows_GivesEachRowItsSoloLogitsAndGreedyContinuation()
    {
        using var model = (ICausalLanguageModel)ModelLoader.Load(ReferenceFixtures.BaseDirectory("llama-tiny"), ModelLoadOptions.Cpu);
        using var pooled = new PooledAdapters(model, [.. KindNames.Select(kind => adapters[kind])]);
        using var harness = new CausalHarness(model);
        var inputs = Fixtures.Inputs("llama-tiny");
        int[] slots = [1, 0, 3, 5, 2, 4, 6, 1, 0, 3, 5];
        long[][] rows = [.. slots.Select((_, i) => inputs[i % inputs.Length])];

        var batchLogits = harness.LastLogits(rows, slots);
        var batchGreedy = harness.Greedy(rows, slots, 6);

        for (var i = 0; i < rows.Length; i++)
        {
            var solo = harness.LastLogits([rows[i]], [slots[i]])[0];
            var difference = TensorAssert.MaxDifference(Array.ConvertAll(solo, l => (double)l), batchLogits[i]);
            Assert.True(difference <= SoloTolerance, $"row {i} (slot {slots[i]}): {difference:E3} from its solo logits");
            Assert.Equal(harness.Greedy([rows[i]], [slots[i]], 6)[0], batchGreedy[i]);
        }
    }
}
