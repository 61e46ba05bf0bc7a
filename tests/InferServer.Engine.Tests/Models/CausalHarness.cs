using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Models;

/// <summary>
/// Drives a causal model the way the engine does, without an engine: every sequence gets a contiguous run of KV slots,
/// one forward per step, greedy choice. Several sequences (each with its own adapter slot) can share every step.
/// </summary>
public sealed class CausalHarness(ICausalLanguageModel model, int slotsPerSequence = 64) : IDisposable
{
    private readonly List<KvCache> caches = [];

    /// <summary>Runs each prompt (with its adapter slot, 0 = base) as one batch and returns the last-position logits of each.</summary>
    public float[][] LastLogits(IReadOnlyList<long[]> prompts, IReadOnlyList<int> adapterSlots) =>
        Run(prompts, adapterSlots, newTokens: 0).LastLogits;

    /// <summary>Logits at every position of one prompt, [positions][vocabulary].</summary>
    public float[][] AllLogits(long[] prompt, int adapterSlot)
    {
        using var scope = NewDisposeScope();
        var cache = NewCache(1);
        var span = new SequenceSpan(0, prompt.Length, prompt.Length, Enumerable.Range(0, prompt.Length).Select(i => (long)i).ToArray());
        var logits = Step(cache, [prompt], [0], [span], [adapterSlot], allRows: true);
        return Enumerable.Range(0, prompt.Length).Select(r => logits[r].to(ScalarType.Float32).data<float>().ToArray()).ToArray();
    }

    /// <summary>Greedy continuation of each prompt by <paramref name="newTokens"/> tokens, all prompts batched in every step.</summary>
    public long[][] Greedy(IReadOnlyList<long[]> prompts, IReadOnlyList<int> adapterSlots, int newTokens) =>
        Run(prompts, adapterSlots, newTokens).Generated;

    private (float[][] LastLogits, long[][] Generated) Run(IReadOnlyList<long[]> prompts, IReadOnlyList<int> adapterSlots, int newTokens)
    {
        using var scope = NewDisposeScope();
        var cache = NewCache(prompts.Count);
        var lengths = prompts.Select(p => p.Length).ToArray();
        var generated = prompts.Select(_ => new List<long>()).ToArray();
        var pending = prompts.Select(p => p.ToArray()).ToArray();
        float[][] firstLogits = [];
        for (var step = 0; step <= newTokens; step++)
        {
            using var stepScope = NewDisposeScope();
            var spans = new List<SequenceSpan>();
            var start = 0;
            for (var s = 0; s < prompts.Count; s++)
            {
                var context = step == 0 ? lengths[s] : lengths[s] + step;
                spans.Add(new SequenceSpan(start, pending[s].Length, context,
                    Enumerable.Range(0, context).Select(i => (long)(s * slotsPerSequence + i)).ToArray()));
                start += pending[s].Length;
            }
            var logits = Step(cache, pending, spans.Select(sp => sp.FirstQueryPosition).ToArray(), spans, adapterSlots, allRows: false)
                .to(ScalarType.Float32);
            if (step == 0)
                firstLogits = Enumerable.Range(0, prompts.Count).Select(s => logits[s].data<float>().ToArray()).ToArray();
            var next = logits.argmax(-1).data<long>().ToArray();
            for (var s = 0; s < prompts.Count; s++)
            {
                generated[s].Add(next[s]);
                pending[s] = [next[s]];
            }
        }
        return (firstLogits, generated.Select(g => g.Take(newTokens).ToArray()).ToArray());
    }

    private Tensor Step(KvCache cache, IReadOnlyList<long[]> tokens, IReadOnlyList<int> firstPositions, IReadOnlyList<SequenceSpan> spans,
        IReadOnlyList<int> adapterSlots, bool allRows)
    {
        var ids = tokens.SelectMany(t => t).ToArray();
        var positions = tokens.SelectMany((t, s) => Enumerable.Range(firstPositions[s], t.Length).Select(p => (long)p)).ToArray();
        var rowSlots = tokens.SelectMany((t, s) => Enumerable.Repeat(adapterSlots[s], t.Length)).ToArray();
        var lastRows = spans.Select(sp => (long)(sp.QueryStart + sp.QueryLength - 1)).ToArray();
        var lora = rowSlots.Any(s => s != 0) ? LoraBatch.Create(rowSlots, model.Device) : null;
        try
        {
            var batch = new CausalBatch(tensor(ids, device: model.Device), tensor(positions, device: model.Device),
                AttentionBatch.Create(spans, model.Shape.SlidingWindow, model.Device), lora, allRows ? null : tensor(lastRows, device: model.Device));
            return model.Forward(batch, cache);
        }
        finally
        {
            lora?.Dispose();
        }
    }

    private KvCache NewCache(int sequences)
    {
        var shape = model.Shape;
        var cache = new KvCache(shape.Layers, (long)sequences * slotsPerSequence, shape.KvHeads, shape.HeadDimension, model.DType, model.Device);
        caches.Add(cache);
        return cache;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var cache in caches)
            cache.Dispose();
    }
}
