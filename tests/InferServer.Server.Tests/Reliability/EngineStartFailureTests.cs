using InferServer.Engine.Models.Loading;
using InferServer.AdapterStore;
using InferServer.AdapterStore.Configuration;
using InferServer.Engine;
using InferServer.Server.Tests.Hosting;
using InferServer.Engine.Tests;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>A start that fails (a preloaded adapter that cannot be served) leaves nothing behind: no engine thread, no tensors.</summary>
[Collection(EngineCollection.Name)]
public sealed class EngineStartFailureTests(ITestOutputHelper output)
{
    [Fact]
    public async Task APreloadFailure_FailsTheStart_AndFreesTheModelAndKvCache()
    {
        var root = BrokenAdapters.WriteRoot();
        var adapters = new AdapterStoreOptions { AdapterRoots = [root], MaxRank = 16, Preload = [BrokenAdapters.WrongBase] };
        var before = LiveTensors.Settled();
        // What loading and disposing the model alone leaves behind (a residue of model disposal, not of the engine).
        ModelLoader.Load(EngineFixture.LlamaTinyDirectory, ModelLoadOptions.Cpu).Dispose();
        var modelResidue = LiveTensors.Now - before;

        var error = await Assert.ThrowsAsync<AdapterPreloadException>(() => EngineFixture.StartWithStore(adapters));

        Assert.Contains("could not be loaded", error.Message);
        // Counted plainly: what was not disposed is still counted. Before the fix the KV cache, the slot pools and the
        // running engine thread's model survived a failed start. The engine frees the model and the KV cache only after
        // its thread has stopped (DisposeAsync waits for it), so this also shows that no engine thread is left running.
        Assert.Equal(before + 2 * modelResidue, LiveTensors.Now);
    }

    [Fact]
    public async Task APreloadFailureInTheHost_FailsTheHostsStart_AndFreesTheModelAndKvCache()
    {
        var root = BrokenAdapters.WriteRoot();
        var before = LiveTensors.Settled();
        ModelLoader.Load(EngineFixture.LlamaTinyDirectory, ModelLoadOptions.Cpu).Dispose();
        var modelResidue = LiveTensors.Now - before;

        // The host awaits the preload when it starts the engine (EngineLifetime), before it listens.
        var error = await Assert.ThrowsAnyAsync<Exception>(() => TestServer.StartAsync(output, runtime: null, new Dictionary<string, string?>
        {
            ["Engine:ModelPath"] = EngineFixture.LlamaTinyDirectory,
            ["Engine:KvCacheBytes"] = (8L * 1024 * 1024).ToString(),
            ["Adapters:AdapterRoots:0"] = root,
            ["Adapters:MaxRank"] = "16",
            ["Adapters:Preload:0"] = BrokenAdapters.WrongBase,
        }));

        Assert.Contains("could not be loaded", error.Message);
        // Disposing the failed host disposed the runtime it had built: engine thread stopped, model and KV cache freed.
        Assert.Equal(before + 2 * modelResidue, LiveTensors.Now);
    }
}
