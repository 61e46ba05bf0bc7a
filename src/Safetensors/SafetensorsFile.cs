using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using TorchSharp;

namespace InferServer.Safetensors;

/// <summary>
/// One safetensors file, memory-mapped read-only once. <see cref="Open(string)"/> validates the whole header, so every later
/// <see cref="Read"/> copies bytes that are known to lie inside the file and to match the tensor's dtype and shape.
/// Reads may run concurrently; disposing while a read is in progress is the caller's error.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private const int LengthPrefixBytes = 8;

    private readonly MemoryMappedFile map;
    private readonly MemoryMappedViewAccessor view;
    private readonly byte* dataStart;
    private bool disposed;

    private SafetensorsFile(string path, SafetensorsHeader header, MemoryMappedFile map, MemoryMappedViewAccessor view, long dataOffset)
    {
        Path = path;
        Metadata = header.Metadata;
        Tensors = header.Tensors;
        this.map = map;
        this.view = view;
        byte* basePointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
        dataStart = basePointer + view.PointerOffset + dataOffset;
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors { get; }

    /// <summary>Opens, maps and validates <paramref name="path"/>; throws <see cref="SafetensorsFormatException"/> on any format error.</summary>
    public static SafetensorsFile Open(string path) => Open(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read), path);

    /// <summary>
    /// Maps and validates the file open in <paramref name="stream"/> (taking ownership of it), for callers that checked
    /// what they opened; <paramref name="path"/> names it in errors.
    /// </summary>
    public static SafetensorsFile Open(FileStream stream, string path)
    {
        if (!BitConverter.IsLittleEndian)
        {
            stream.Dispose();
            throw new PlatformNotSupportedException("Safetensors data is little-endian; this reader copies bytes as they are.");
        }

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            var fileLength = stream.Length;
            if (fileLength < LengthPrefixBytes)
            {
                throw new SafetensorsFormatException(path, null, $"file has {fileLength} bytes, fewer than the 8-byte header length");
            }

            Span<byte> prefix = stackalloc byte[LengthPrefixBytes];
            stream.ReadExactly(prefix);
            var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > SafetensorsHeader.MaxHeaderLength)
            {
                throw new SafetensorsFormatException(
                    path, null, $"header length {headerLength} exceeds the format's limit of {SafetensorsHeader.MaxHeaderLength} bytes");
            }

            if ((long)headerLength > fileLength - LengthPrefixBytes)
            {
                throw new SafetensorsFormatException(
                    path, null, $"header length {headerLength} runs past the end of the {fileLength}-byte file");
            }

            var headerBytes = new byte[headerLength];
            stream.ReadExactly(headerBytes);
            var dataOffset = LengthPrefixBytes + (long)headerLength;
            var header = SafetensorsHeader.Parse(path, headerBytes, fileLength - dataOffset);

            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new SafetensorsFile(path, header, map, view, dataOffset);
        }
        catch
        {
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies tensor <paramref name="name"/> out of the map into a new tensor the caller owns (registered on the caller's
    /// current dispose scope, if any). Throws <see cref="KeyNotFoundException"/> naming the file when there is no such tensor.
    /// </summary>
    public torch.Tensor Read(string name, torch.Device? device = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!Tensors.TryGetValue(name, out var info))
        {
            throw new KeyNotFoundException($"Safetensors file '{Path}' has no tensor named '{name}'.");
        }

        var source = dataStart + info.DataBegin;
        if (info.DType == SafetensorsDType.BOOL)
        {
            CheckBooleans(info, source);
        }

        var tensor = torch.empty(info.Shape, info.DType.ToScalarType(), torch.CPU);
        try
        {
            // torch.empty on the CPU is contiguous and row-major, as the file is, so the bytes copy over unchanged.
            TensorStorage.CopyInto(source, tensor, info.ByteLength);
            if (device is null || device.type == DeviceType.CPU)
            {
                return tensor;
            }

            var moved = tensor.to(device);
            tensor.Dispose();
            return moved;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        map.Dispose();
    }

    /// <summary>A byte other than 0 or 1 is not a valid torch.bool; refuse it rather than hand out an undefined tensor.</summary>
    private void CheckBooleans(SafetensorsTensorInfo info, byte* source)
    {
        for (long i = 0; i < info.ByteLength; i++)
        {
            if (source[i] > 1)
            {
                throw new SafetensorsFormatException(Path, info.Name, $"BOOL element {i} has byte value {source[i]}, not 0 or 1");
            }
        }
    }
}
