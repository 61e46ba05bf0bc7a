using TorchSharp;

namespace InferServer.Safetensors.Tests;

public sealed class SafetensorsCheckpointTests
{
    private const string Index = "model.safetensors.index.json";

    [Fact]
    public void ShardedCheckpoint_ExposesTheUnionOfItsShardsThroughTheIndex()
    {
        using var directory = new TemporaryDirectory();
        using var scope = torch.NewDisposeScope();
        WriteShards(directory);

        using var checkpoint = SafetensorsCheckpoint.Open(directory.Path);
        Assert.Equal(["a", "b", "c"], checkpoint.Tensors.Keys.Order());
        Assert.Equal(new long[] { 2, 2 }, checkpoint.Tensors["b"].Shape);
        Assert.Equal(new float[] { 1, 1, 1, 1 }, checkpoint.Read("b").data<float>().ToArray());
        Assert.Equal(7L, checkpoint.Read("c").item<long>());
    }

    [Fact]
    public void SingleFile_IsOpenedUnderTheGivenBaseName()
    {
        using var directory = new TemporaryDirectory();
        using var scope = torch.NewDisposeScope();
        SafetensorsWriter.Write(directory.File("adapter_model.safetensors"), [new("w", torch.ones(3))]);

        using var checkpoint = SafetensorsCheckpoint.Open(directory.Path, "adapter_model");
        Assert.Equal(["w"], checkpoint.Tensors.Keys);
        Assert.Equal(3, checkpoint.Read("w").sum().item<float>());
        Assert.Throws<KeyNotFoundException>(() => checkpoint.Read("missing"));
    }

    [Fact]
    public void DirectoryWithoutCheckpoint_ThrowsFileNotFound()
    {
        using var directory = new TemporaryDirectory();

        var error = Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(directory.Path));
        Assert.Contains("model.safetensors", error.Message);
    }

    [Theory]
    [InlineData("""{"weight_map":""", null, "not valid JSON")]
    [InlineData("""[]""", null, "not an object")]
    [InlineData("""{"metadata":{}}""", null, "no 'weight_map' object")]
    [InlineData("""{"weight_map":{"a":3}}""", "a", "not a shard file name")]
    [InlineData("""{"weight_map":{"a":"../elsewhere/s1.safetensors"}}""", "a", "not a plain file name")]
    [InlineData("""{"weight_map":{"a":"s1.safetensors","a":"s1.safetensors"}}""", "a", "listed twice")]
    [InlineData("""{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s3.safetensors"}}""", "c", "shard file 's3.safetensors' does not exist")]
    [InlineData("""{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors","d":"s2.safetensors"}}""", "d", "which does not contain it")]
    [InlineData("""{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}""", "c", "weight_map does not place it there")]
    public void MalformedIndex_IsRefusedNamingIndexTensorAndProblem(string index, string? tensor, string problem)
    {
        using var directory = new TemporaryDirectory();
        using (torch.NewDisposeScope())
        {
            WriteShards(directory);
        }

        File.WriteAllText(directory.File(Index), index);

        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(directory.Path));
        Assert.Contains(directory.File(Index), error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Equal(tensor, error.TensorName);
    }

    [Fact]
    public void CorruptShard_IsRefusedNamingTheShard()
    {
        using var directory = new TemporaryDirectory();
        using (torch.NewDisposeScope())
        {
            WriteShards(directory);
        }

        File.WriteAllBytes(directory.File("s2.safetensors"), [1, 2, 3]);

        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(directory.Path));
        Assert.Contains(directory.File("s2.safetensors"), error.Message);
    }

    private static void WriteShards(TemporaryDirectory directory)
    {
        SafetensorsWriter.Write(directory.File("s1.safetensors"), [new("a", torch.zeros(3))]);
        SafetensorsWriter.Write(directory.File("s2.safetensors"), [new("b", torch.ones(2, 2)), new("c", torch.tensor(7L))]);
        File.WriteAllText(
            directory.File(Index),
            """{"metadata":{"total_size":36},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors"}}""");
    }
}
