using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using TorchSharp;

namespace InferServer.Safetensors.Tests;

public sealed class SafetensorsWriterTests
{
    [Theory]
    [InlineData(torch.ScalarType.Float32, "F32")]
    [InlineData(torch.ScalarType.Float16, "F16")]
    [InlineData(torch.ScalarType.BFloat16, "BF16")]
    [InlineData(torch.ScalarType.Float64, "F64")]
    [InlineData(torch.ScalarType.Int64, "I64")]
    [InlineData(torch.ScalarType.Int32, "I32")]
    [InlineData(torch.ScalarType.Int16, "I16")]
    [InlineData(torch.ScalarType.Int8, "I8")]
    [InlineData(torch.ScalarType.Byte, "U8")]
    [InlineData(torch.ScalarType.Bool, "BOOL")]
    public void EveryDType_RoundTripsBitExactWithItsShape(torch.ScalarType scalarType, string headerDType)
    {
        using var scope = torch.NewDisposeScope();
        using var directory = new TemporaryDirectory();
        string path = directory.File("all.safetensors");
        var matrix = MakeValues(scalarType, [3, 5]);
        var scalar = MakeValues(scalarType, []);
        var empty = torch.empty([0, 4], scalarType);
        SafetensorsWriter.Write(path, new Dictionary<string, torch.Tensor> { ["matrix"] = matrix, ["scalar"] = scalar, ["empty"] = empty });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(Enum.Parse<SafetensorsDType>(headerDType), file.Tensors["matrix"].DType);
        foreach (var (name, expected) in new[] { ("matrix", matrix), ("scalar", scalar), ("empty", empty) })
        {
            var actual = file.Read(name);
            Assert.Equal(scalarType, actual.dtype);
            Assert.Equal(expected.shape, actual.shape);
            Assert.Equal(expected.bytes.ToArray(), actual.bytes.ToArray());
        }
    }

    [Fact]
    public void BFloat16AndFloat16_KeepEveryBitPattern()
    {
        using var scope = torch.NewDisposeScope();
        using var directory = new TemporaryDirectory();
        string path = directory.File("halves.safetensors");

        // All 65536 bit patterns, NaNs and subnormals included: a conversion anywhere on the way would change some.
        var patterns = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        var bf16 = FromBits(patterns, torch.ScalarType.BFloat16);
        var f16 = FromBits(patterns, torch.ScalarType.Float16);
        SafetensorsWriter.Write(path, [new("bf16", bf16), new("f16", f16)]);

        using var file = SafetensorsFile.Open(path);
        var bf16Read = file.Read("bf16");
        var f16Read = file.Read("f16");
        Assert.Equal(torch.ScalarType.BFloat16, bf16Read.dtype);
        Assert.Equal(torch.ScalarType.Float16, f16Read.dtype);
        Assert.Equal(patterns, MemoryMarshal.Cast<byte, ushort>(bf16Read.bytes).ToArray());
        Assert.Equal(patterns, MemoryMarshal.Cast<byte, ushort>(f16Read.bytes).ToArray());
        Assert.Equal(1.0f, bf16Read[0x3F80].to(torch.ScalarType.Float32).item<float>());
        Assert.Equal(1.0f, f16Read[0x3C00].to(torch.ScalarType.Float32).item<float>());
    }

    [Fact]
    public void Metadata_RoundTrips()
    {
        using var scope = torch.NewDisposeScope();
        using var directory = new TemporaryDirectory();
        string path = directory.File("meta.safetensors");
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" };
        SafetensorsWriter.Write(path, [new("x", torch.ones(2))], metadata);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(metadata, file.Metadata);
    }

    [Fact]
    public void Header_IsPaddedWithSpacesToAMultipleOfEightAndOrderedBySizeThenName()
    {
        using var scope = torch.NewDisposeScope();
        using var directory = new TemporaryDirectory();
        string path = directory.File("layout.safetensors");
        SafetensorsWriter.Write(path, [new("b_byte", torch.ones(3, torch.ScalarType.Byte)), new("z_double", torch.ones(1, torch.ScalarType.Float64)), new("a_byte", torch.zeros(1, torch.ScalarType.Byte))]);

        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, headerLength % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.Matches(@"^\{.*\} *$", header);
        using var json = JsonDocument.Parse(header);
        Assert.Equal(["z_double", "a_byte", "b_byte"], json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(8 + headerLength + 8 + 1 + 3, bytes.Length);
    }

    [Fact]
    public void NonContiguousInput_IsWrittenInLogicalRowMajorOrder()
    {
        using var scope = torch.NewDisposeScope();
        using var directory = new TemporaryDirectory();
        string path = directory.File("transposed.safetensors");
        var transposed = torch.arange(6, dtype: torch.ScalarType.Float32).reshape(2, 3).t();
        SafetensorsWriter.Write(path, [new("t", transposed)]);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, file.Read("t").data<float>().ToArray());
        Assert.False(transposed.is_contiguous());
    }

    [Fact]
    public void Write_ReplacesAnExistingFileAndLeavesNoTemporaryBehind()
    {
        using var scope = torch.NewDisposeScope();
        using var directory = new TemporaryDirectory();
        string path = directory.File("replaced.safetensors");
        SafetensorsWriter.Write(path, [new("old", torch.ones(4))]);
        SafetensorsWriter.Write(path, [new("new", torch.zeros(2))]);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["new"], file.Tensors.Keys);
        Assert.Equal([path], Directory.GetFiles(directory.Path));
    }

    [Fact]
    public void DuplicateOrReservedNames_AreRefusedBeforeAnythingIsWritten()
    {
        using var scope = torch.NewDisposeScope();
        using var directory = new TemporaryDirectory();
        string path = directory.File("bad.safetensors");

        var duplicate = Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [new("x", torch.ones(1)), new("x", torch.ones(1))]));
        Assert.Contains("'x'", duplicate.Message);
        var reserved = Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [new("__metadata__", torch.ones(1))]));
        Assert.Contains("__metadata__", reserved.Message);
        Assert.Empty(Directory.GetFiles(directory.Path));
    }

    private static torch.Tensor FromBits(ushort[] bits, torch.ScalarType halfType)
    {
        var tensor = torch.empty(bits.Length, halfType);
        MemoryMarshal.AsBytes(bits.AsSpan()).CopyTo(tensor.bytes);
        return tensor;
    }

    private static torch.Tensor MakeValues(torch.ScalarType scalarType, long[] shape)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var values = torch.arange(count, dtype: torch.ScalarType.Float64).reshape(shape);
        return scalarType switch
        {
            torch.ScalarType.Bool => values.remainder(2).eq(1),
            torch.ScalarType.Int8 or torch.ScalarType.Int16 or torch.ScalarType.Int32 or torch.ScalarType.Int64 => (values - 7).to(scalarType),
            torch.ScalarType.Byte => (values * 17).remainder(256).to(scalarType),
            _ => ((values - 5) * 0.3).to(scalarType),
        };
    }
}
