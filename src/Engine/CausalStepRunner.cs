using InferServer.Kernels;
using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Kernels.Sampling;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine;

/// <summary>
/// Turns a planned step into one model forward and one sampling call: flattens every item's tokens into rows,
/// maps positions to KV slots through each sequence's blocks, tags rows with adapter slots, and samples for the items
/// whose chunk reached their last token, each constrained row under its grammar's mask (<see cref="StructuredOutput"/>). Everything runs inside one dispose scope; only managed results leave.
/// Engine thread only.
/// </summary>
internal sealed class CausalStepRunner(ICausalLanguageModel model, KvCache cache, KvBlockAllocator blocks, StructuredOutput structured,
    bool batchInvariant = false)
{
    /// <summary>Runs the step; returns the sampled token of each item that samples (in item order), null for the others.</summary>
    public SampledToken?[] Run(IReadOnlyList<StepItem> items, bool merged)
    {
        // Rows of one adapter laid out contiguously let the grouped LoRA path slice instead of gather and scatter.
        var order = Enumerable.Range(0, items.Count).OrderBy(i => items[i].Sequence.AdapterSlot).ToArray();
        var results = new SampledToken?[items.Count];
        var sampled = RunOrdered(order.Select(i => items[i]).ToArray(), merged);
        for (var k = 0; k < order.Length; k++)
        {
            results[order[k]] = sampled[k];
        }

        return results;
    }

    private SampledToken?[] RunOrdered(IReadOnlyList<StepItem> items, bool merged)
    {
        using var scope = NewDisposeScope();
        using var invariance = BatchInvariance.Enter(batchInvariant);
        var rowCount = items.Sum(i => i.Count);
        var ids = new long[rowCount];
        var positions = new long[rowCount];
        var rowSlots = new int[rowCount];
        var spans = new List<SequenceSpan>(items.Count);
        var logitRows = new List<long>();
        var row = 0;
        foreach (var item in items)
        {
            var sequence = item.Sequence;
            var context = item.Start + item.Count;
            var kvSlots = new long[context];
            for (var position = 0; position < context; position++)
            {
                kvSlots[position] = blocks.SlotOf(sequence.Blocks, position);
            }

            spans.Add(new SequenceSpan(row, item.Count, context, kvSlots) { PromptLength = sequence.PromptLength });
            for (var k = 0; k < item.Count; k++, row++)
            {
                ids[row] = sequence.Tokens[item.Start + k];
                positions[row] = item.Start + k;
                rowSlots[row] = merged ? 0 : sequence.AdapterSlot;
            }
            if (item.SamplesNext)
            {
                logitRows.Add(row - 1);
            }
        }

        var device = model.Device;
        using var lora = rowSlots.Any(s => s != 0) ? LoraBatch.Create(rowSlots, device) : null;
        using var logitLora = lora?.SelectRows(logitRows.Select(r => (int)r).ToArray());
        var batch = new CausalBatch(tensor(ids, device: device), tensor(positions, device: device),
            AttentionBatch.Create(spans, model.Shape.SlidingWindow, device), lora,
            tensor(logitRows.ToArray(), device: device), logitLora);
        var results = new SampledToken?[items.Count];
        if (logitRows.Count == 0)
        {
            model.Forward(batch, cache);
            return results;
        }
        var logits = model.Forward(batch, cache).to(ScalarType.Float32, CPU);
        var sampling = items.Where(i => i.SamplesNext).Select(i => i.Sequence).ToArray();
        var masks = sampling.Select(structured.MaskFor).ToArray();
        var sampled = Sampler.Sample(logits, [.. sampling.Select(s => s.Sampling)], structured.Vocabulary,
            masks.Any(mask => mask is not null) ? masks : null);
        var next = 0;
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i].SamplesNext)
            {
                results[i] = sampled[next++];
            }
        }

        return results;
    }
}
