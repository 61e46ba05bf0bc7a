using static TorchSharp.torch;

namespace InferServer.Kernels.Lora;

/// <summary>
/// Punica BGMV's per-row indices for one set of active slots: which rows take part (<see cref="Rows"/>, null when that is every
/// row in order, so the kernel skips the gather of x and the scatter into y) and which slot each of them reads.
/// </summary>
internal sealed class LoraGatherIndex(Tensor? rows, Tensor rowSlots, int count) : IDisposable
{
    public Tensor? Rows { get; } = rows;

    public Tensor RowSlots { get; } = rowSlots;

    public int Count { get; } = count;

    public void Dispose()
    {
        Rows?.Dispose();
        RowSlots.Dispose();
    }
}
