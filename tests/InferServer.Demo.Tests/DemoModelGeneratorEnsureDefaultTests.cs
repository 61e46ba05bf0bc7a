using InferServer.Demo;

namespace InferServer.Demo.Tests;

public sealed class DemoModelGeneratorEnsureDefaultTests : IDisposable
{
    private readonly TemporaryDirectory scratch = new();
    private readonly string cacheRoot;

    public DemoModelGeneratorEnsureDefaultTests()
    {
        cacheRoot = scratch.File("cache");
    }

    [Fact]
    public void EnsureDefault_WritesTheLlamaDemoOnce_AndRewritesItWhenAFileIsMissing()
    {
        var directory = DemoModelGenerator.EnsureDefault(cacheRoot);

        Assert.Equal(Path.Combine(cacheRoot, "llama"), directory);
        Assert.True(DemoModelGenerator.IsComplete(directory, DemoModelKind.Llama));
        var marker = Path.Combine(directory, "left-alone.txt");
        File.WriteAllText(marker, "a complete demo is not rewritten");
        Assert.Equal(directory, DemoModelGenerator.EnsureDefault(cacheRoot));
        Assert.True(File.Exists(marker));

        var adapterWeights = Path.Combine(directory, "adapters", "chat-r8", "adapter_model.safetensors");
        File.Delete(adapterWeights);
        Assert.False(DemoModelGenerator.IsComplete(directory, DemoModelKind.Llama));
        Assert.Equal(directory, DemoModelGenerator.EnsureDefault(cacheRoot));

        Assert.True(File.Exists(adapterWeights));
        Assert.False(File.Exists(marker));
        Assert.Equal([directory], Directory.GetFileSystemEntries(cacheRoot));
    }

    public void Dispose() => scratch.Dispose();
}
