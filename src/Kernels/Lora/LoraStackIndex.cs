using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Lora;

/// <summary>
/// Where the stacked LoRA path puts each row, for one set of active slots. The stack is <c>[StackSlots, RowsPerSlot, in]</c>:
/// stack entry k holds slot <c>FirstSlot + k</c> (range form, <see cref="SlotIndex"/> null: the pool's A and B are sliced, not
/// copied) or slot <c>SlotIndex[k]</c> (compact form, used when the active slots are spread too thinly over the pool).
/// Row i of <see cref="Rows"/> goes to flat position <c>Positions[i]</c> = k · RowsPerSlot + its index within its slot.
/// </summary>
internal sealed class LoraStackIndex : IDisposable
{
    /// <summary>
    /// Slots with more rows than this take the grouped loop instead: padding every slot of the stack to a long prefill segment
    /// would multiply mostly zero rows. Decode gives one row per request, so a slot reaches this only under a popular adapter.
    /// </summary>
    public const int MaxRowsPerSlot = 4;

    private LoraStackIndex(
        int[] stackedGroups, int[] groupedGroups, int firstSlot, int stackSlots, int rowsPerSlot, Tensor? slotIndex, Tensor? rows,
        Tensor? positions, int count)
    {
        StackedGroups = stackedGroups;
        GroupedGroups = groupedGroups;
        FirstSlot = firstSlot;
        StackSlots = stackSlots;
        RowsPerSlot = rowsPerSlot;
        SlotIndex = slotIndex;
        Rows = rows;
        Positions = positions;
        Count = count;
    }

    /// <summary>Indices (into the batch's groups) of the slots in the stack.</summary>
    public int[] StackedGroups { get; }

    /// <summary>Indices of the active slots with too many rows for the stack.</summary>
    public int[] GroupedGroups { get; }

    public int FirstSlot { get; }

    public int StackSlots { get; }

    public int RowsPerSlot { get; }

    /// <summary>The pool slots of the stack entries in compact form; null in range form.</summary>
    public Tensor? SlotIndex { get; }

    /// <summary>The stacked rows of x and y; null when they are every row in order.</summary>
    public Tensor? Rows { get; }

    /// <summary>Each stacked row's flat position in the stack; null when row i sits at position i (the stack is x itself).</summary>
    public Tensor? Positions { get; }

    /// <summary>Rows in the stack.</summary>
    public int Count { get; }

    public static LoraStackIndex Create(ReadOnlySpan<int> tokenSlots, IReadOnlyList<LoraSlotGroup> groups, ReadOnlySpan<bool> active, Device device)
    {
        var stacked = new List<int>();
        var grouped = new List<int>();
        for (var i = 0; i < groups.Count; i++)
        {
            if (active[i])
            {
                (groups[i].Count <= MaxRowsPerSlot ? stacked : grouped).Add(i);
            }
        }

        if (stacked.Count == 0)
        {
            return new LoraStackIndex([], [.. grouped], 0, 0, 0, null, null, null, 0);
        }

        var firstSlot = groups[stacked[0]].Slot;
        var range = groups[stacked[^1]].Slot - firstSlot + 1;
        // Slicing the pool reads the slots in the gaps too (their rows are zero); beyond as many gaps as used slots, copying
        // just the used slots' A and B is cheaper.
        var useRange = range <= 2 * stacked.Count;
        var stackSlots = useRange ? range : stacked.Count;
        var rowsPerSlot = stacked.Max(i => groups[i].Count);

        var entryOfSlot = new Dictionary<int, int>();
        for (var k = 0; k < stacked.Count; k++)
        {
            var slot = groups[stacked[k]].Slot;
            entryOfSlot[slot] = useRange ? slot - firstSlot : k;
        }

        var rows = new List<int>();
        var positions = new List<long>();
        var filled = new Dictionary<int, int>();
        for (var row = 0; row < tokenSlots.Length; row++)
        {
            if (entryOfSlot.TryGetValue(tokenSlots[row], out var entry))
            {
                filled.TryGetValue(entry, out var within);
                filled[entry] = within + 1;
                rows.Add(row);
                positions.Add((long)entry * rowsPerSlot + within);
            }
        }

        var everyRow = rows.Count == tokenSlots.Length;
        var identity = everyRow && rows.Count == stackSlots * rowsPerSlot && positions.Select((p, i) => p == i).All(same => same);
        Tensor? slotIndex = null, rowIndex = null;
        try
        {
            // Detached tensors have no scope to free them: if a later one fails (device memory), free the earlier ones.
            slotIndex = useRange ? null : LongTensor(stacked.Select(i => (long)groups[i].Slot).ToArray(), device);
            rowIndex = everyRow ? null : LoraBatch.IndexTensor([.. rows], device);
            var positionIndex = identity ? null : LongTensor([.. positions], device);
            return new LoraStackIndex(
                [.. stacked], [.. grouped], firstSlot, stackSlots, rowsPerSlot, slotIndex, rowIndex, positionIndex, rows.Count);
        }
        catch
        {
            slotIndex?.Dispose();
            rowIndex?.Dispose();
            throw;
        }
    }

    private static Tensor LongTensor(long[] values, Device device) =>
        torch.tensor(values, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();

    public void Dispose()
    {
        SlotIndex?.Dispose();
        Rows?.Dispose();
        Positions?.Dispose();
    }
}
