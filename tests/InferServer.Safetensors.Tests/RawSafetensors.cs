using System.Buffers.Binary;
using System.Text;

namespace InferServer.Safetensors.Tests;

/// <summary>Assembles safetensors bytes by hand, independent of the writer under test.</summary>
internal static class RawSafetensors
{
    public static byte[] Build(string headerJson, byte[] data)
    {
        byte[] header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    public static string Write(TemporaryDirectory directory, string name, string headerJson, byte[] data)
    {
        string path = directory.File(name);
        File.WriteAllBytes(path, Build(headerJson, data));
        return path;
    }
}
