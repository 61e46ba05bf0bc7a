using static TorchSharp.torch;

namespace InferServer.Kernels.Lora;

/// <summary>
/// The rows of one step that use one adapter slot: Punica SGMV's "segment". When the rows are contiguous (a prefill chunk, or a
/// scheduler that orders decode rows by adapter) the grouped kernel slices x and y with views and needs no index tensor at all.
/// </summary>
internal sealed class LoraSlotGroup : IDisposable
{
    private readonly int[] rows;
    private readonly Device device;
    private Tensor? rowIndex;

    public LoraSlotGroup(int slot, int[] rows, Device device)
    {
        Slot = slot;
        this.rows = rows;
        this.device = device;
        Start = rows[0];
        IsContiguous = rows[^1] - rows[0] == rows.Length - 1; // rows are ascending and distinct
    }

    public int Slot { get; }

    public int Count => rows.Length;

    /// <summary>First row; with <see cref="IsContiguous"/> the group is rows <c>[Start, Start + Count)</c>.</summary>
    public int Start { get; }

    public bool IsContiguous { get; }

    public ReadOnlySpan<int> RowList => rows;

    /// <summary>
    /// The group's row indices as an int64 tensor on the batch's device, built on first use and then shared by every module of
    /// the step. Detached from dispose scopes: the first caller may be inside a module's own scope, and later modules still need it.
    /// </summary>
    public Tensor RowIndex => rowIndex ??= LoraBatch.IndexTensor(rows, device);

    public void Dispose() => rowIndex?.Dispose();
}
