using InferServer.AdapterStore.Configuration;
using InferServer.Demo;
using InferServer.Engine;
using InferServer.Engine.Composition;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Models.Loading;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace InferServer.Samples.Tests;

public sealed class ScratchLeakTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Scratch()
    {
        using var directory = new TemporaryDirectory();
        var model = Path.Combine(directory.Path, "llama");
        DemoModelGenerator.Write(model, DemoModelKind.Llama, seed: 3);
        var adapters = Path.Combine(directory.Path, "adapters");
        DemoModelGenerator.WriteTenantAdapters(adapters, DemoModelKind.Llama, 2, rank: 8, ["q_proj", "v_proj"], seed: 3);
        for (var i = 0; i < 3; i++)
        {
            var before = LiveTensors.Settled();
            ModelLoader.Load(model, new ModelLoadOptions(TorchSharp.torch.CPU, TorchSharp.torch.ScalarType.Float32)).Dispose();
            output.WriteLine($"model load+dispose: {LiveTensors.Settled() - before}");
        }
        for (var i = 0; i < 3; i++)
        {
            var before = LiveTensors.Settled();
            var runtime = EngineComposition.Compose(new EngineOptions { ModelPath = model }, new AdapterStoreOptions { AdapterRoots = [adapters] },
                NullLoggerFactory.Instance, TimeProvider.System);
            await runtime.DisposeAsync();
            output.WriteLine($"compose+dispose: {LiveTensors.Settled() - before}");
        }
    }
}
