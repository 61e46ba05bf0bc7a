namespace InferServer.Engine.Tests;

/// <summary>Engine:BatchInvariant rests on how the CPU GEMM rounds; on a CUDA device it is refused at start, naming the key.</summary>
public sealed class EngineOptionsBatchInvariantTests
{
    [Fact]
    public void BatchInvariant_OnTheCpu_IsValid() =>
        Assert.Empty(new EngineOptions { BatchInvariant = true }.Validate());

    [Fact]
    public void BatchInvariant_OnCuda_IsRefusedNamingTheKey()
    {
        var problem = Assert.Single(new EngineOptions { BatchInvariant = true, Device = "cuda:0" }.Validate());
        Assert.StartsWith("Engine:BatchInvariant", problem);
        Assert.Empty(new EngineOptions { Device = "cuda:0" }.Validate());
    }
}
