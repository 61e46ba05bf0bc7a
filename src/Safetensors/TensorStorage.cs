using TorchSharp;

namespace InferServer.Safetensors;

/// <summary>
/// Raw byte access to contiguous CPU tensors. TorchSharp's <c>Tensor.bytes</c> is a span over the tensor's own storage
/// (no copy), but a span is int-indexed, so tensors are walked in 1-D chunks small enough for one span each.
/// </summary>
internal static unsafe class TensorStorage
{
    private const long ChunkBytes = 1L << 30;

    /// <summary>Copies <paramref name="length"/> bytes from <paramref name="source"/> into <paramref name="destination"/>'s storage.</summary>
    public static void CopyInto(byte* source, torch.Tensor destination, long length)
    {
        ForEachChunk(destination, length, (offset, span) => new ReadOnlySpan<byte>(source + offset, span.Length).CopyTo(span));
    }

    /// <summary>Writes <paramref name="tensor"/>'s storage to <paramref name="stream"/> as it lies in memory.</summary>
    public static void WriteTo(torch.Tensor tensor, Stream stream)
    {
        ForEachChunk(tensor, tensor.numel() * tensor.element_size(), (_, span) => stream.Write(span));
    }

    private delegate void ChunkAction(long byteOffset, Span<byte> chunk);

    private static void ForEachChunk(torch.Tensor tensor, long length, ChunkAction action)
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
        {
            throw new ArgumentException("Raw byte access needs a contiguous CPU tensor.", nameof(tensor));
        }

        if (length == 0)
        {
            return;
        }

        var elementSize = tensor.element_size();
        var elementsPerChunk = ChunkBytes / elementSize;
        using var flat = tensor.view(-1);
        var elements = flat.numel();
        for (long start = 0; start < elements; start += elementsPerChunk)
        {
            using var chunk = flat.narrow(0, start, Math.Min(elementsPerChunk, elements - start));
            action(start * elementSize, chunk.bytes);
        }
    }
}
