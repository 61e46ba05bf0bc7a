using System.Text;
using System.Text.Json;

namespace InferServer.Safetensors;

/// <summary>
/// Parses and validates a safetensors header as the reference implementation (huggingface/safetensors,
/// <c>safetensors/src/tensor.rs</c>, <c>Metadata::validate</c>) does: every entry well-typed, every dtype known, every
/// byte count equal to the element count times the element size, and the tensors tiling the data buffer exactly, without
/// overlaps or gaps.
/// </summary>
internal sealed record SafetensorsHeader(
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors)
{
    /// <summary>The reference implementation's MAX_HEADER_SIZE: larger headers are refused before allocating them.</summary>
    public const long MaxHeaderLength = 100_000_000;

    public const string MetadataKey = "__metadata__";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static SafetensorsHeader Parse(string path, byte[] headerBytes, long dataLength)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(headerBytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new SafetensorsFormatException(path, null, "header is not valid UTF-8", e);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(path, null, $"header is not valid JSON ({e.Message})", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(path, null, $"header is a JSON {document.RootElement.ValueKind}, not an object");
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
            var sawMetadata = false;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    if (sawMetadata)
                    {
                        throw new SafetensorsFormatException(path, null, $"duplicate '{MetadataKey}' entry");
                    }

                    sawMetadata = true;
                    ReadMetadata(path, property.Value, metadata);
                    continue;
                }

                // JsonDocument keeps duplicate properties; the reference's serde map would silently keep the last one.
                if (tensors.ContainsKey(property.Name))
                {
                    throw new SafetensorsFormatException(path, property.Name, "duplicate tensor name in header");
                }

                tensors.Add(property.Name, ReadEntry(path, property.Name, property.Value, dataLength));
            }

            CheckTiling(path, tensors.Values, dataLength);
            return new SafetensorsHeader(metadata, tensors);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(path, null, $"'{MetadataKey}' is a JSON {value.ValueKind}, not an object of strings");
        }

        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
            {
                throw new SafetensorsFormatException(
                    path, null, $"'{MetadataKey}' entry '{entry.Name}' is a JSON {entry.Value.ValueKind}, not a string");
            }

            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
            {
                throw new SafetensorsFormatException(path, null, $"duplicate '{MetadataKey}' entry '{entry.Name}'");
            }
        }
    }

    private static SafetensorsTensorInfo ReadEntry(string path, string name, JsonElement entry, long dataLength)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(path, name, $"entry is a JSON {entry.ValueKind}, not an object");
        }

        if (!entry.TryGetProperty("dtype", out var dtypeElement))
        {
            throw new SafetensorsFormatException(path, name, "entry has no 'dtype'");
        }

        if (dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw new SafetensorsFormatException(path, name, $"'dtype' is a JSON {dtypeElement.ValueKind}, not a string");
        }

        var dtypeText = dtypeElement.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeText, out var dtype))
        {
            throw new SafetensorsFormatException(path, name, $"unknown or unsupported dtype '{dtypeText}'");
        }

        var shape = ReadIntegerArray(path, name, entry, "shape");
        var negative = shape.FirstOrDefault(dim => dim < 0);
        if (negative < 0)
        {
            throw new SafetensorsFormatException(path, name, $"shape [{string.Join(", ", shape)}] has a negative dimension {negative}");
        }

        var offsets = ReadIntegerArray(path, name, entry, "data_offsets");
        if (offsets.Length != 2)
        {
            throw new SafetensorsFormatException(path, name, $"'data_offsets' has {offsets.Length} elements, not 2");
        }

        (var begin, var end) = (offsets[0], offsets[1]);
        if (begin < 0 || end < 0)
        {
            throw new SafetensorsFormatException(path, name, $"data_offsets [{begin}, {end}] are negative");
        }

        if (begin > end)
        {
            throw new SafetensorsFormatException(path, name, $"data_offsets [{begin}, {end}] begin after they end");
        }

        if (end > dataLength)
        {
            throw new SafetensorsFormatException(
                path, name, $"data_offsets [{begin}, {end}] end past the data buffer of {dataLength} bytes");
        }

        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (product, dim) => product * dim) * dtype.ElementSize());
        }
        catch (OverflowException e)
        {
            throw new SafetensorsFormatException(path, name, $"shape [{string.Join(", ", shape)}] is too large", e);
        }

        if (expected != end - begin)
        {
            throw new SafetensorsFormatException(
                path,
                name,
                $"shape [{string.Join(", ", shape)}] of {dtype.ToHeaderString()} needs {expected} bytes, but data_offsets [{begin}, {end}] hold {end - begin}");
        }

        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] ReadIntegerArray(string path, string name, JsonElement entry, string field)
    {
        if (!entry.TryGetProperty(field, out var element))
        {
            throw new SafetensorsFormatException(path, name, $"entry has no '{field}'");
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            throw new SafetensorsFormatException(path, name, $"'{field}' is a JSON {element.ValueKind}, not an array of integers");
        }

        var values = new long[element.GetArrayLength()];
        var index = 0;
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out values[index]))
            {
                throw new SafetensorsFormatException(path, name, $"'{field}' element {index} ({item.GetRawText()}) is not an integer");
            }

            index++;
        }

        return values;
    }

    /// <summary>
    /// The reference requires the tensors to cover the data buffer exactly: sorted by offset, each begins where the
    /// previous ended and the last ends at the buffer's end. That makes overlapping (aliased) tensors and hidden bytes
    /// impossible.
    /// </summary>
    private static void CheckTiling(string path, IEnumerable<SafetensorsTensorInfo> tensors, long dataLength)
    {
        long cursor = 0;
        SafetensorsTensorInfo? previous = null;
        foreach (var tensor in tensors.OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd).ThenBy(t => t.Name, StringComparer.Ordinal))
        {
            if (tensor.DataBegin < cursor)
            {
                throw new SafetensorsFormatException(
                    path,
                    tensor.Name,
                    $"data_offsets [{tensor.DataBegin}, {tensor.DataEnd}] overlap tensor '{previous!.Name}' at [{previous.DataBegin}, {previous.DataEnd}]");
            }

            if (tensor.DataBegin > cursor)
            {
                throw new SafetensorsFormatException(
                    path,
                    tensor.Name,
                    $"data_offsets [{tensor.DataBegin}, {tensor.DataEnd}] leave a gap: bytes [{cursor}, {tensor.DataBegin}) belong to no tensor");
            }

            cursor = tensor.DataEnd;
            previous = tensor;
        }

        if (cursor != dataLength)
        {
            throw new SafetensorsFormatException(
                path,
                previous?.Name,
                $"data buffer has {dataLength} bytes but the tensors cover only [0, {cursor}): bytes [{cursor}, {dataLength}) belong to no tensor");
        }
    }
}
