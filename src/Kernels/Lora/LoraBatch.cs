using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Lora;

/// <summary>
/// Which adapter slot each token row of one step uses (0 = base only). Built once per model step and shared by every adapted module.
/// </summary>
/// <remarks>
/// <para>
/// Precomputes on the host what the kernels need, so the dozens of adapted modules of a step do not redo it: the distinct non-zero
/// slots, the rows grouped by slot (Punica SGMV's segments, S-LoRA's per-adapter batches) and, on first use, the index tensors.
/// Index tensors are built lazily, once per step, and cached here: a step whose modules all take the grouped path over contiguous
/// segments never builds one.
/// </para>
/// <para>
/// The batch owns those tensors and disposes them in <see cref="Dispose"/>; they are detached from dispose scopes because the
/// first module to need one may be running inside its own nested scope. Use it as <c>using var batch = LoraBatch.Create(...)</c>
/// for the length of the step.
/// </para>
/// </remarks>
public sealed class LoraBatch : IDisposable
{
    private readonly int[] tokenSlots;
    private readonly LoraSlotGroup[] groups;
    private readonly Device device;
    private readonly int adaptedRows;
    // Index tensors keyed by which of the distinct slots are active in the calling module (see ActiveKey).
    private readonly Dictionary<string, LoraGatherIndex> gatherIndices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoraStackIndex> stackIndices = new(StringComparer.Ordinal);
    private bool disposed;

    private LoraBatch(int[] tokenSlots, LoraSlotGroup[] groups, Device device)
    {
        this.tokenSlots = tokenSlots;
        this.groups = groups;
        this.device = device;
        DistinctSlots = Array.AsReadOnly(groups.Select(group => group.Slot).ToArray());
        adaptedRows = groups.Sum(group => group.Count);
        MaxSlot = groups.Length == 0 ? 0 : groups[^1].Slot;
    }

    public int Rows => tokenSlots.Length;

    /// <summary>The non-zero slots present, ascending.</summary>
    public IReadOnlyList<int> DistinctSlots { get; }

    public bool HasAdapters => groups.Length > 0;

    public Device Device => device;

    /// <summary>Rows that use any adapter (slot ≠ 0).</summary>
    internal int AdaptedRows => adaptedRows;

    internal int MaxSlot { get; }

    internal ReadOnlySpan<int> TokenSlots => tokenSlots;

    /// <summary>Rows of <c>DistinctSlots[index]</c>.</summary>
    internal LoraSlotGroup Group(int index) => groups[index];

    public static LoraBatch Create(ReadOnlySpan<int> tokenSlots, Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var rowsBySlot = new SortedDictionary<int, List<int>>();
        for (var row = 0; row < tokenSlots.Length; row++)
        {
            var slot = tokenSlots[row];
            if (slot < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(tokenSlots), slot, $"Row {row} has a negative adapter slot.");
            }

            if (slot == 0)
            {
                continue; // base rows take no part in LoRA work at all
            }

            if (!rowsBySlot.TryGetValue(slot, out var rows))
            {
                rowsBySlot.Add(slot, rows = []);
            }

            rows.Add(row);
        }

        var groups = rowsBySlot.Select(pair => new LoraSlotGroup(pair.Key, pair.Value.ToArray(), device)).ToArray();
        return new LoraBatch(tokenSlots.ToArray(), groups, device);
    }

    /// <summary>
    /// The batch of a subset of rows, in the order given: for modules that run on fewer rows than the step, such as an
    /// lm_head on the rows whose logits are wanted or BERT's pooler on each sequence's first token. The caller disposes it.
    /// </summary>
    public LoraBatch SelectRows(ReadOnlySpan<int> rows)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var slots = new int[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            if ((uint)rows[i] >= (uint)tokenSlots.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(rows), rows[i], $"The batch has rows 0..{tokenSlots.Length - 1}.");
            }

            slots[i] = tokenSlots[rows[i]];
        }

        return Create(slots, device);
    }

    /// <summary>
    /// BGMV indices for the rows whose slot is active in the calling module (<paramref name="active"/>[i] for
    /// <c>DistinctSlots[i]</c>), built once per distinct active set per step.
    /// </summary>
    internal LoraGatherIndex GatherIndex(ReadOnlySpan<bool> active)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var key = ActiveKey(active);
        if (gatherIndices.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var activeSlots = new HashSet<int>();
        for (var i = 0; i < active.Length; i++)
        {
            if (active[i])
            {
                activeSlots.Add(groups[i].Slot);
            }
        }

        var rows = new List<int>();
        var slots = new List<long>();
        for (var row = 0; row < tokenSlots.Length; row++)
        {
            if (activeSlots.Contains(tokenSlots[row]))
            {
                rows.Add(row);
                slots.Add(tokenSlots[row]);
            }
        }

        var everyRow = rows.Count == tokenSlots.Length;
        var index = new LoraGatherIndex(
            everyRow ? null : IndexTensor(rows.ToArray(), device),
            torch.tensor(slots.ToArray(), dtype: ScalarType.Int64, device: device).DetachFromDisposeScope(),
            rows.Count);
        gatherIndices.Add(key, index);
        return index;
    }

    /// <summary>The stacked path's layout for the slots active in the calling module, built once per distinct active set per step.</summary>
    internal LoraStackIndex StackIndex(ReadOnlySpan<bool> active)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var key = ActiveKey(active);
        if (!stackIndices.TryGetValue(key, out var index))
        {
            index = LoraStackIndex.Create(tokenSlots, groups, active, device);
            stackIndices.Add(key, index);
        }

        return index;
    }

    // '1'/'0' per distinct slot: modules adapted by the same adapters (q, k, v, o in every layer, usually) share one key.
    private static string ActiveKey(ReadOnlySpan<bool> active) =>
        string.Create(active.Length, active.ToArray(), static (chars, flags) =>
        {
            for (var i = 0; i < flags.Length; i++)
            {
                chars[i] = flags[i] ? '1' : '0';
            }
        });

    internal static Tensor IndexTensor(int[] rows, Device device)
    {
        var values = Array.ConvertAll(rows, row => (long)row);
        return torch.tensor(values, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
    }

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        foreach (var group in groups)
        {
            group.Dispose();
        }

        foreach (var index in gatherIndices.Values)
        {
            index.Dispose();
        }

        foreach (var index in stackIndices.Values)
        {
            index.Dispose();
        }
    }
}
