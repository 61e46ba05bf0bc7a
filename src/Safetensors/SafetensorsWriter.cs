using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;

namespace InferServer.Safetensors;

/// <summary>
/// Writes safetensors files readable by the reference implementation: header JSON padded with spaces to a multiple of
/// 8 bytes, tensors ordered by descending element size then name (as the reference's <c>prepare</c> does) so that each
/// tensor's data starts aligned to its element size.
/// </summary>
public static class SafetensorsWriter
{
    private const int HeaderAlignment = 8;

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/> atomically: a temporary file beside it, flushed, then
    /// renamed over it, so readers see the old file or the complete new one. Tensors are copied to the CPU and made
    /// contiguous first; the caller's tensors are left untouched.
    /// </summary>
    public static void Write(
        string path,
        IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = Prepare(tensors);
        var header = BuildHeader(entries, metadata);

        var temporary = path + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                Span<byte> prefix = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
                stream.Write(prefix);
                stream.Write(header);
                foreach (var entry in entries)
                {
                    WriteData(stream, entry.Tensor);
                }

                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private sealed record Entry(string Name, SafetensorsDType DType, long[] Shape, long ByteLength, torch.Tensor Tensor);

    private static List<Entry> Prepare(IEnumerable<KeyValuePair<string, torch.Tensor>> tensors)
    {
        var entries = new List<Entry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            if (name == SafetensorsHeader.MetadataKey)
            {
                throw new ArgumentException($"'{SafetensorsHeader.MetadataKey}' is reserved and cannot name a tensor.", nameof(tensors));
            }

            if (!names.Add(name))
            {
                throw new ArgumentException($"Tensor name '{name}' appears twice.", nameof(tensors));
            }

            if (!SafetensorsDTypes.TryFromScalarType(tensor.dtype, out var dtype))
            {
                throw new ArgumentException($"Tensor '{name}' has dtype {tensor.dtype}, which safetensors cannot store here.", nameof(tensors));
            }

            entries.Add(new Entry(name, dtype, tensor.shape, tensor.numel() * dtype.ElementSize(), tensor));
        }

        entries.Sort((left, right) =>
        {
            var bySize = right.DType.ElementSize().CompareTo(left.DType.ElementSize());
            return bySize != 0 ? bySize : string.CompareOrdinal(left.Name, right.Name);
        });
        return entries;
    }

    private static byte[] BuildHeader(List<Entry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var entry in entries)
            {
                json.WriteStartObject(entry.Name);
                json.WriteString("dtype", entry.DType.ToHeaderString());
                json.WriteStartArray("shape");
                foreach (var dim in entry.Shape)
                {
                    json.WriteNumberValue(dim);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + entry.ByteLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += entry.ByteLength;
            }

            json.WriteEndObject();
        }

        var padding = (HeaderAlignment - (int)(buffer.Length % HeaderAlignment)) % HeaderAlignment;
        for (var i = 0; i < padding; i++)
        {
            buffer.WriteByte((byte)' ');
        }

        return buffer.ToArray();
    }

    private static void WriteData(FileStream stream, torch.Tensor tensor)
    {
        // The scope disposes the CPU/contiguous copies; when an operation returns the caller's own tensor, that tensor
        // belongs to the caller's scope, not this one, and survives.
        using var scope = torch.NewDisposeScope();
        TensorStorage.WriteTo(tensor.detach().cpu().contiguous(), stream);
    }
}
