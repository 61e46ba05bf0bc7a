using InferServer.Kernels.Memory;
using static TorchSharp.torch;

namespace InferServer.Kernels.Attention;

/// <summary>
/// Preallocated key/value storage for every layer: K and V of shape [slots, kvHeads, headDim] per layer. A token's
/// keys and values live at one slot index; which slots a sequence owns (paged blocks or a contiguous run) is the
/// engine's bookkeeping, handed to attention through <see cref="AttentionBatch"/>. Never grown, never module state.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] keys;
    private readonly Tensor[] values;

    /// <summary>The whole budget is allocated at once: call outside any per-step dispose scope.</summary>
    public KvCache(int layers, long slots, long kvHeads, long headDimension, ScalarType dtype, Device device)
    {
        if (layers <= 0 || slots <= 0 || kvHeads <= 0 || headDimension <= 0)
        {
            throw new ArgumentException($"KV cache dimensions must be positive: layers {layers}, slots {slots}, kv heads {kvHeads}, head dim {headDimension}");
        }

        keys = new Tensor[layers];
        values = new Tensor[layers];
        for (var layer = 0; layer < layers; layer++)
        {
            keys[layer] = HugePages.Zeros([slots, kvHeads, headDimension], dtype, device);
            values[layer] = HugePages.Zeros([slots, kvHeads, headDimension], dtype, device);
        }
        Slots = slots;
        BytesPerSlot = BytesPerTokenSlot(layers, kvHeads, headDimension, dtype);
    }

    /// <summary>Token positions the cache can hold in total.</summary>
    public long Slots { get; }

    /// <summary>Bytes one token occupies across all layers (K and V).</summary>
    public long BytesPerSlot { get; }

    /// <summary>Total bytes held.</summary>
    public long Bytes => BytesPerSlot * Slots;

    /// <summary>Keys of one layer, [slots, kvHeads, headDim].</summary>
    public Tensor Keys(int layer) => keys[layer];

    /// <summary>Values of one layer, [slots, kvHeads, headDim].</summary>
    public Tensor Values(int layer) => values[layer];

    /// <summary>Bytes needed per token slot for a model shape, for sizing a cache from a byte budget.</summary>
    public static long BytesPerTokenSlot(int layers, long kvHeads, long headDimension, ScalarType dtype) =>
        2L * layers * kvHeads * headDimension * ElementSize(dtype);

    private static long ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 => 2,
        _ => throw new ArgumentException($"unsupported KV cache dtype {dtype}"),
    };

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var tensor in keys.Concat(values))
        {
            tensor.Dispose();
        }
    }
}
