using static TorchSharp.torch;

namespace InferServer.Kernels.Attention;

/// <summary>
/// Where each sequence of one model step reads and writes the KV cache, turned into index tensors once per step and
/// shared by every layer. Create it inside the step's dispose scope: its tensors die with the step.
/// Decode sequences (one new token) are gathered into padded groups (<see cref="DecodeGroup"/>) so that many attend in
/// one call; prefill sequences (several new tokens, possibly a later chunk of a long prompt) attend one at a time.
/// </summary>
public sealed class AttentionBatch
{
    private AttentionBatch(IReadOnlyList<SequenceSpan> sequences, Tensor writeSlots, DecodeGroup[] decode, PrefillItem[] prefill,
        InvariantAttentionRows? invariantRows = null)
    {
        Sequences = sequences;
        WriteSlots = writeSlots;
        Decode = decode;
        Prefill = prefill;
        InvariantRows = invariantRows;
    }

    /// <summary>The step's sequences in row order.</summary>
    public IReadOnlyList<SequenceSpan> Sequences { get; }

    /// <summary>KV slot of every new token row, [tokens] int64.</summary>
    public Tensor WriteSlots { get; }

    internal DecodeGroup[] Decode { get; }

    internal PrefillItem[] Prefill { get; }

    /// <summary>
    /// In batch-invariant mode (<see cref="BatchInvariance"/> on while the batch was created), every row of the step with the
    /// KV slots of its visible context, and attention runs one call per row (<see cref="RowwiseAttention"/>); null otherwise.
    /// </summary>
    internal InvariantAttentionRows? InvariantRows { get; }

    /// <summary>
    /// Builds the step's index tensors. <paramref name="slidingWindow"/> (Mistral) limits each query to the last
    /// that many positions, itself included; null attends to the whole context.
    /// </summary>
    public static AttentionBatch Create(IReadOnlyList<SequenceSpan> sequences, int? slidingWindow, Device device)
    {
        var totalRows = sequences.Sum(s => s.QueryLength);
        var writeSlots = new long[totalRows];
        var decodeSequences = new List<SequenceSpan>();
        var prefill = new List<PrefillItem>();
        var expectedStart = 0;
        foreach (var sequence in sequences)
        {
            if (sequence.QueryStart != expectedStart || sequence.QueryLength <= 0
                || sequence.ContextLength < sequence.QueryLength || sequence.KvSlots.Length != sequence.ContextLength)
            {
                throw new ArgumentException($"inconsistent sequence span {sequence} (expected query start {expectedStart})");
            }

            expectedStart += sequence.QueryLength;
            Array.Copy(sequence.KvSlots, sequence.FirstQueryPosition, writeSlots, sequence.QueryStart, sequence.QueryLength);
            if (BatchInvariance.IsOn)
            {
                continue;
            }

            if (sequence.QueryLength == 1)
            {
                decodeSequences.Add(sequence);
            }
            else
            {
                prefill.Add(PrefillItem.Create(sequence, slidingWindow, device));
            }
        }
        if (BatchInvariance.IsOn)
        {
            return new AttentionBatch(sequences, tensor(writeSlots, device: device), [], [],
                InvariantAttentionRows.Create(sequences, slidingWindow, device));
        }

        var decode = DecodeGroup.Split(decodeSequences).Select(group => DecodeGroup.Create(group, slidingWindow, device)).ToArray();
        return new AttentionBatch(sequences, tensor(writeSlots, device: device), decode, prefill.ToArray());
    }

    /// <summary>Single-token sequences attending in one call: their rows, their contexts' slots padded to the longest, and a mask.</summary>
    internal sealed record DecodeGroup(Tensor Rows, Tensor Slots, Tensor Mask)
    {
        /// <summary>
        /// At most this many context positions (rows × longest context) per group. The gathered keys and values of a
        /// group are fresh tensors each layer; above glibc's 32 MiB mmap threshold every one of them is a new mapping whose
        /// pages the kernel faults in and zeroes: with 32 rows of 1,000-2,000-token contexts, copies and page faults
        /// were 3/4 of the server's samples under perf (with the copies of repeated KV heads, now gone too). A bounded
        /// group keeps them in the allocator's reused memory, and sorting by length keeps the padding small.
        /// </summary>
        internal const int MaxContextPositions = 8192;

        /// <summary>Splits the decode sequences, longest context first, into groups within <see cref="MaxContextPositions"/>.</summary>
        public static IEnumerable<List<SequenceSpan>> Split(List<SequenceSpan> sequences)
        {
            var group = new List<SequenceSpan>();
            foreach (var sequence in sequences.OrderByDescending(s => s.ContextLength))
            {
                // The group's first sequence is its longest, so its length is what every row pads to.
                if (group.Count > 0 && (group.Count + 1) * group[0].ContextLength > MaxContextPositions)
                {
                    yield return group;
                    group = [];
                }
                group.Add(sequence);
            }
            if (group.Count > 0)
            {
                yield return group;
            }
        }

        public static DecodeGroup Create(List<SequenceSpan> sequences, int? slidingWindow, Device device)
        {
            var longest = sequences.Max(s => s.ContextLength);
            var slots = new long[sequences.Count * longest];
            var mask = new bool[sequences.Count * longest];
            var rows = new long[sequences.Count];
            for (var i = 0; i < sequences.Count; i++)
            {
                var sequence = sequences[i];
                rows[i] = sequence.QueryStart;
                var firstVisible = slidingWindow is int window ? Math.Max(0, sequence.ContextLength - window) : 0;
                for (var position = 0; position < sequence.ContextLength; position++)
                {
                    slots[i * longest + position] = sequence.KvSlots[position];
                    mask[i * longest + position] = position >= firstVisible;
                }
            }
            return new DecodeGroup(
                tensor(rows, device: device),
                tensor(slots, device: device).view(sequences.Count, longest),
                tensor(mask, device: device).view(sequences.Count, 1, 1, longest));
        }
    }

    /// <summary>One multi-token sequence: its context's slots and, unless plain causal from position 0, a mask.</summary>
    internal sealed record PrefillItem(SequenceSpan Sequence, Tensor Slots, Tensor? Mask)
    {
        public static PrefillItem Create(SequenceSpan sequence, int? slidingWindow, Device device)
        {
            var slots = tensor(sequence.KvSlots, device: device);
            var plainCausal = sequence.QueryLength == sequence.ContextLength
                              && (slidingWindow is null || slidingWindow >= sequence.ContextLength);
            if (plainCausal)
            {
                return new PrefillItem(sequence, slots, null);
            }

            var mask = new bool[sequence.QueryLength * sequence.ContextLength];
            for (var query = 0; query < sequence.QueryLength; query++)
            {
                var position = sequence.FirstQueryPosition + query;
                var firstVisible = slidingWindow is int window ? Math.Max(0, position - window + 1) : 0;
                for (var key = firstVisible; key <= position; key++)
                {
                    mask[query * sequence.ContextLength + key] = true;
                }
            }
            return new PrefillItem(sequence, slots,
                tensor(mask, device: device).view(sequence.QueryLength, sequence.ContextLength));
        }
    }
}
