using System.Buffers.Binary;
using TorchSharp;

namespace InferServer.Safetensors.Tests;

public sealed class SafetensorsFileTests
{
    private const string TwoTensorsData = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I8","shape":[3],"data_offsets":[8,11]}}""";

    [Fact]
    public void HandAssembledFile_ReadsAsTheReferenceFormatDescribesIt()
    {
        using var directory = new TemporaryDirectory();
        var data = new byte[8 + 4 + 2];
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -2.25f);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(8), -123456);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(12), 0x3FC0); // bfloat16 1.5
        string header = """{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"i":{"dtype":"I32","shape":[],"data_offsets":[8,12]},"h":{"dtype":"BF16","shape":[1],"data_offsets":[12,14]}}   """;
        string path = RawSafetensors.Write(directory, "hand.safetensors", header, data);

        using var file = SafetensorsFile.Open(path);
        using var scope = torch.NewDisposeScope();
        Assert.Equal("pt", file.Metadata["format"]);
        var info = file.Tensors["w"];
        Assert.Equal(("w", SafetensorsDType.F32, 0L, 8L), (info.Name, info.DType, info.DataBegin, info.DataEnd));
        Assert.Equal(new long[] { 1, 2 }, info.Shape);
        Assert.Equal(new[] { 1.5f, -2.25f }, file.Read("w").data<float>().ToArray());
        var scalar = file.Read("i");
        Assert.Empty(scalar.shape);
        Assert.Equal(-123456, scalar.item<int>());
        var half = file.Read("h");
        Assert.Equal(torch.ScalarType.BFloat16, half.dtype);
        Assert.Equal(1.5f, half.to(torch.ScalarType.Float32).item<float>());
    }

    [Fact]
    public void Read_ReturnsIndependentTensorsOnTheRequestedDevice()
    {
        using var directory = new TemporaryDirectory();
        string path = RawSafetensors.Write(directory, "two.safetensors", TwoTensorsData, [0, 0, 128, 63, 0, 0, 0, 64, 1, 2, 3]);
        using var file = SafetensorsFile.Open(path);
        using var scope = torch.NewDisposeScope();

        var first = file.Read("a", torch.CPU);
        first.add_(1);
        Assert.Equal(new float[] { 1, 2 }, file.Read("a").data<float>().ToArray());
        Assert.Equal(new sbyte[] { 1, 2, 3 }, file.Read("b").data<sbyte>().ToArray());
    }

    [Fact]
    public void Read_OfAnUnknownName_ThrowsKeyNotFoundNamingFileAndTensor()
    {
        using var directory = new TemporaryDirectory();
        string path = RawSafetensors.Write(directory, "two.safetensors", TwoTensorsData, new byte[11]);
        using var file = SafetensorsFile.Open(path);

        var error = Assert.Throws<KeyNotFoundException>(() => file.Read("missing"));
        Assert.Contains(path, error.Message);
        Assert.Contains("'missing'", error.Message);
    }

    [Fact]
    public void Read_AfterDispose_Throws()
    {
        using var directory = new TemporaryDirectory();
        string path = RawSafetensors.Write(directory, "two.safetensors", TwoTensorsData, new byte[11]);
        var file = SafetensorsFile.Open(path);
        file.Dispose();

        Assert.Throws<ObjectDisposedException>(() => file.Read("a"));
    }

    [Fact]
    public void FileShorterThanEightBytes_IsRefused()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("short.safetensors");
        File.WriteAllBytes(path, [1, 0, 0]);

        AssertFormatError(path, null, "fewer than the 8-byte header length");
    }

    [Fact]
    public void HeaderLengthPastTheEndOfTheFile_IsRefused()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("long.safetensors");
        var bytes = RawSafetensors.Build("{}", []);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 3);
        File.WriteAllBytes(path, bytes);

        AssertFormatError(path, null, "runs past the end");
    }

    [Fact]
    public void AbsurdHeaderLength_IsRefusedBeforeAllocating()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("huge.safetensors");
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        File.WriteAllBytes(path, bytes);

        AssertFormatError(path, null, "exceeds the format's limit");
    }

    [Theory]
    [InlineData("{\"a\":", "not valid JSON")]
    [InlineData("[1,2]", "not an object")]
    [InlineData("{\"__metadata__\":{\"n\":1}}", "not a string")]
    [InlineData("{\"__metadata__\":[]}", "not an object of strings")]
    public void MalformedHeaderWithoutATensor_IsRefused(string header, string problem)
    {
        using var directory = new TemporaryDirectory();
        string path = RawSafetensors.Write(directory, "bad.safetensors", header, []);

        AssertFormatError(path, null, problem);
    }

    [Fact]
    public void HeaderThatIsNotUtf8_IsRefused()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("latin1.safetensors");
        var bytes = RawSafetensors.Build("{\"x\":1}", []);
        bytes[10] = 0xFF;
        File.WriteAllBytes(path, bytes);

        AssertFormatError(path, null, "not valid UTF-8");
    }

    [Theory]
    [InlineData("""{"t":[1]}""", "not an object")]
    [InlineData("""{"t":{"shape":[1],"data_offsets":[0,4]}}""", "no 'dtype'")]
    [InlineData("""{"t":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}""", "'dtype' is a JSON Number")]
    [InlineData("""{"t":{"dtype":"F32","data_offsets":[0,4]}}""", "no 'shape'")]
    [InlineData("""{"t":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}""", "'shape' is a JSON String")]
    [InlineData("""{"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", "'shape' element 0 (1.5) is not an integer")]
    [InlineData("""{"t":{"dtype":"F32","shape":[1]}}""", "no 'data_offsets'")]
    [InlineData("""{"t":{"dtype":"F32","shape":[1],"data_offsets":[0]}}""", "has 1 elements, not 2")]
    [InlineData("""{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}}""", "'data_offsets' element 1")]
    [InlineData("""{"t":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}""", "unknown or unsupported dtype 'F8_E4M3'")]
    [InlineData("""{"t":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}""", "unknown or unsupported dtype 'f32'")]
    [InlineData("""{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", "negative dimension -1")]
    [InlineData("""{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", "needs 8 bytes, but data_offsets [0, 4] hold 4")]
    [InlineData("""{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}""", "too large")]
    [InlineData("""{"t":{"dtype":"U8","shape":[4],"data_offsets":[4,0]}}""", "begin after they end")]
    [InlineData("""{"t":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}""", "end past the data buffer of 4 bytes")]
    [InlineData("""{"t":{"dtype":"U8","shape":[4],"data_offsets":[-4,0]}}""", "negative")]
    [InlineData("""{"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}""", "bytes [2, 4) belong to no tensor")]
    [InlineData("""{"t":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}""", "leave a gap: bytes [0, 2)")]
    [InlineData("""{"s":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"t":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}""", "overlap tensor 's'")]
    [InlineData("""{"s":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"t":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}""", "overlap tensor 's'")]
    [InlineData("""{"t":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"t":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}""", "duplicate tensor name")]
    [InlineData("""{"t":{"dtype":"BOOL","shape":[4],"data_offsets":[0,4]}}""", "BOOL element 3 has byte value 4")]
    public void MalformedTensorEntry_IsRefusedNamingTheTensor(string header, string problem)
    {
        using var directory = new TemporaryDirectory();
        string path = RawSafetensors.Write(directory, "bad.safetensors", header, [1, 0, 1, 4]);

        AssertFormatError(path, "t", problem, readEveryTensor: true);
    }

    [Fact]
    public void ZeroSizeTensors_MayShareAnOffsetWithoutOverlapping()
    {
        using var directory = new TemporaryDirectory();
        string header = """{"e1":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"e2":{"dtype":"I64","shape":[3,0],"data_offsets":[0,0]},"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""";
        string path = RawSafetensors.Write(directory, "empty.safetensors", header, [9]);
        using var file = SafetensorsFile.Open(path);
        using var scope = torch.NewDisposeScope();

        Assert.Equal(new long[] { 3, 0 }, file.Read("e2").shape);
        Assert.Equal(9, file.Read("x").item<byte>());
    }

    private static void AssertFormatError(string path, string? tensor, string problem, bool readEveryTensor = false)
    {
        var error = Assert.Throws<SafetensorsFormatException>(() =>
        {
            using var file = SafetensorsFile.Open(path);
            using var scope = torch.NewDisposeScope();
            foreach (string name in readEveryTensor ? file.Tensors.Keys : [])
            {
                file.Read(name);
            }
        });
        Assert.Contains(path, error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Equal(tensor, error.TensorName);
        if (tensor is not null)
        {
            Assert.Contains($"tensor '{tensor}'", error.Message);
        }
    }
}
