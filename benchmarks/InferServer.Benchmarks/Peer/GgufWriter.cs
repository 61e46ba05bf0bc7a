using System.Text;
using TorchSharp;

namespace InferServer.Benchmarks.Peer;

/// <summary>
/// A minimal writer of GGUF version 3, the file format llama.cpp loads: a header (magic, version, tensor and key counts),
/// typed key/value metadata, the tensor directory (name, dimensions fastest-first, type, offset), then the tensor data,
/// every piece aligned to <see cref="Alignment"/> bytes. Only what the peer benchmark needs: F32 tensors and the scalar,
/// string and array value types its metadata uses. All integers are little-endian, strings are a u64 length and UTF-8.
/// </summary>
public sealed class GgufWriter
{
    /// <summary>general.alignment's default; tensor data offsets are multiples of it.</summary>
    public const int Alignment = 32;

    private const uint Magic = 0x46554747; // "GGUF" read as a little-endian u32
    private const uint Version = 3;
    private const uint GgmlTypeF32 = 0;

    private enum ValueType : uint { UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9 }

    private readonly List<(string Key, Action<BinaryWriter> Write)> metadata = [];
    private readonly List<(string Name, long[] Shape, Func<torch.Tensor> Data)> tensors = [];

    /// <summary>Adds a string value.</summary>
    public void Add(string key, string value) => metadata.Add((key, w => { Type(w, ValueType.String); String(w, value); }));

    /// <summary>Adds a u32 value.</summary>
    public void Add(string key, uint value) => metadata.Add((key, w => { Type(w, ValueType.UInt32); w.Write(value); }));

    /// <summary>Adds an f32 value.</summary>
    public void Add(string key, float value) => metadata.Add((key, w => { Type(w, ValueType.Float32); w.Write(value); }));

    /// <summary>Adds a bool value (one byte).</summary>
    public void Add(string key, bool value) => metadata.Add((key, w => { Type(w, ValueType.Bool); w.Write(value); }));

    /// <summary>Adds an array of strings.</summary>
    public void Add(string key, IReadOnlyList<string> values) => metadata.Add((key, w =>
    {
        Type(w, ValueType.Array);
        Type(w, ValueType.String);
        w.Write((ulong)values.Count);
        foreach (var value in values)
        {
            String(w, value);
        }
    }
    ));

    /// <summary>Adds an array of i32.</summary>
    public void Add(string key, IReadOnlyList<int> values) => metadata.Add((key, w =>
    {
        Type(w, ValueType.Array);
        Type(w, ValueType.Int32);
        w.Write((ulong)values.Count);
        foreach (var value in values)
        {
            w.Write(value);
        }
    }
    ));

    /// <summary>
    /// Adds an F32 tensor of PyTorch shape <paramref name="shape"/> (slowest dimension first; GGUF stores the reverse).
    /// <paramref name="data"/> is called once, while the file is written, so only one tensor is in memory at a time;
    /// the writer disposes what it returns.
    /// </summary>
    public void AddTensor(string name, long[] shape, Func<torch.Tensor> data) => tensors.Add((name, shape, data));

    /// <summary>Writes the file (through a temporary name, moved into place when complete).</summary>
    public void Write(string path)
    {
        var temporary = path + ".partial";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(Version);
            writer.Write((ulong)tensors.Count);
            writer.Write((ulong)metadata.Count);
            foreach (var (key, write) in metadata)
            {
                String(writer, key);
                write(writer);
            }

            ulong offset = 0;
            foreach (var (name, shape, _) in tensors)
            {
                String(writer, name);
                writer.Write((uint)shape.Length);
                foreach (var dimension in shape.Reverse())
                {
                    writer.Write((ulong)dimension);
                }
                writer.Write(GgmlTypeF32);
                writer.Write(offset);
                offset = Align(offset + (ulong)(shape.Aggregate(1L, (a, b) => a * b) * sizeof(float)));
            }

            Pad(writer);
            foreach (var (name, shape, data) in tensors)
            {
                using var tensor = data();
                using var contiguous = tensor.to(torch.ScalarType.Float32).contiguous();
                if (!contiguous.shape.SequenceEqual(shape))
                {
                    throw new InvalidOperationException($"{name}: declared shape [{string.Join(",", shape)}], data [{string.Join(",", contiguous.shape)}]");
                }
                writer.Write(contiguous.bytes);
                Pad(writer);
            }
        }
        File.Move(temporary, path, overwrite: true);
    }

    private static ulong Align(ulong value) => (value + Alignment - 1) / Alignment * Alignment;

    private static void Pad(BinaryWriter writer)
    {
        var position = (ulong)writer.BaseStream.Position;
        for (var i = position; i < Align(position); i++)
        {
            writer.Write((byte)0);
        }
    }

    private static void Type(BinaryWriter writer, ValueType type) => writer.Write((uint)type);

    private static void String(BinaryWriter writer, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        writer.Write((ulong)bytes.Length);
        writer.Write(bytes);
    }
}
