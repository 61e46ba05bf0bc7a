using static TorchSharp.torch;

namespace InferServer.Kernels.Attention;

/// <summary>
/// Batch-invariant mode: every query row of one step with the KV slots of its visible context in position order, built once
/// per step by <see cref="AttentionBatch.Create"/> and shared by every layer (<see cref="RowwiseAttention"/>).
/// </summary>
internal sealed class InvariantAttentionRows
{
    private readonly int[] rows;
    private readonly int[] lengths;
    private readonly int[] offsets;
    private readonly Tensor slots;

    private InvariantAttentionRows(int[] rows, int[] lengths, int[] offsets, Tensor slots)
    {
        this.rows = rows;
        this.lengths = lengths;
        this.offsets = offsets;
        this.slots = slots;
    }

    public int Count => rows.Length;

    /// <summary>Row i's index in the step, its visible context's length and that context's KV slots (a view).</summary>
    public (int Row, int Length, Tensor Slots) this[int i] => (rows[i], lengths[i], slots.narrow(0, offsets[i], lengths[i]));

    /// <summary>The rows of <paramref name="sequences"/> and their visible contexts (sliding window applied).</summary>
    public static InvariantAttentionRows Create(IReadOnlyList<SequenceSpan> sequences, int? slidingWindow, Device device)
    {
        var rows = new List<int>();
        var lengths = new List<int>();
        var offsets = new List<int>();
        var slots = new List<long>();
        foreach (var sequence in sequences)
        {
            for (var k = 0; k < sequence.QueryLength; k++)
            {
                var position = sequence.FirstQueryPosition + k;
                var first = slidingWindow is int window ? Math.Max(0, position - window + 1) : 0;
                rows.Add(sequence.QueryStart + k);
                lengths.Add(position - first + 1);
                offsets.Add(slots.Count);
                slots.AddRange(sequence.KvSlots.AsSpan(first, position - first + 1));
            }
        }

        return new InvariantAttentionRows([.. rows], [.. lengths], [.. offsets], tensor(slots.ToArray(), device: device));
    }
}
