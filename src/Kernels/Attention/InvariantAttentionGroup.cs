using static TorchSharp.torch;

namespace InferServer.Kernels.Attention;

/// <summary>
/// Batch-invariant mode: the query rows of one step whose visible context has the same <see cref="Length"/>, with the KV slots
/// of each row's context in position order (row i's are <c>Slots[i·Length, (i + 1)·Length)</c>). Built once per step by
/// <see cref="AttentionBatch.Create"/> and shared by every layer (<see cref="RowwiseAttention"/>).
/// </summary>
internal sealed record InvariantAttentionGroup(int Length, int RowCount, Tensor Rows, Tensor Slots)
{
    /// <summary>Groups the rows of <paramref name="sequences"/> by the length of their visible context (sliding window applied).</summary>
    public static InvariantAttentionGroup[] Create(IReadOnlyList<SequenceSpan> sequences, int? slidingWindow, Device device)
    {
        var byLength = new SortedDictionary<int, (List<long> Rows, List<long> Slots)>();
        foreach (var sequence in sequences)
        {
            for (var k = 0; k < sequence.QueryLength; k++)
            {
                var position = sequence.FirstQueryPosition + k;
                var first = slidingWindow is int window ? Math.Max(0, position - window + 1) : 0;
                var length = position - first + 1;
                if (!byLength.TryGetValue(length, out var group))
                {
                    byLength.Add(length, group = ([], []));
                }

                group.Rows.Add(sequence.QueryStart + k);
                group.Slots.AddRange(sequence.KvSlots.AsSpan(first, length));
            }
        }

        return [.. byLength.Select(pair => new InvariantAttentionGroup(pair.Key, pair.Value.Rows.Count,
            tensor(pair.Value.Rows.ToArray(), device: device), tensor(pair.Value.Slots.ToArray(), device: device)))];
    }
}
