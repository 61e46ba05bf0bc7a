using InferServer.Engine;
using InferServer.Engine.Tests.Models;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests;

/// <summary>A server runs for weeks: every step's temporaries must die with the step.</summary>
[Collection(EngineCollection.Name)]
public sealed class EngineLeakTests
{
    [Fact]
    public async Task ThousandRequests_LeaveNoLiveTensorsBehind()
    {
        await using var engine = EngineFixture.Start();
        var prompts = Fixtures.Inputs("llama-tiny").Select(i => i.Select(t => (int)t).ToArray()).ToArray();
        async Task RunWave(int count) => await Task.WhenAll(Enumerable.Range(0, count)
            .Select(i => EngineFixture.Collect(engine, EngineFixture.Greedy(prompts[i % prompts.Length], 2 + i % 3))));

        await RunWave(32);
        await Poll.UntilAsync(() => engine.Status.RunningRequests == 0);
        // Settled first (garbage other tests left), the final count plainly, so tensors the engine drops without disposing show up.
        var baseline = LiveTensors.Settled();
        Assert.True(baseline > 0, "the counter must see the model's weights and the KV cache");

        for (var wave = 0; wave < 1000 / 40; wave++)
            await RunWave(40);
        await Poll.UntilAsync(() => engine.Status.RunningRequests == 0);

        Assert.Equal(baseline, LiveTensors.Now);
        Assert.Equal(0, engine.Status.KvCacheUsage);
    }
}
