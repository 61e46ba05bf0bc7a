using InferServer.Engine;

namespace InferServer.Engine.Tests.PrefixCaching;

/// <summary>
/// Every way a request ends (finish, preemption and recompute, cancel, deadline) leaves its blocks cached or free, never
/// in use and never leaked, and the cache stays inside the KV budget.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class PrefixCachingLifecycleTests
{
    // llama-tiny: 512 bytes per token slot (see InferenceEngineTests); 160 slots = 10 blocks of 16.
    private const int BytesPerSlot = 512;
    private const int TotalBlocks = 10;

    [Fact]
    public async Task PreemptionCancelAndDeadline_LeaveNoBlockInUse_TheCacheWithinBudget_AndNoLiveTensors()
    {
        var options = new EngineOptions
        {
            KvCacheBytes = TotalBlocks * 16 * BytesPerSlot,
            KvBlockSize = 16,
            MaxContextTokens = 80,
            PrefixCaching = true,
        };
        await using var engine = EngineFixture.Start(options);
        var random = new Random(5);
        var shared = Enumerable.Range(0, 35).Select(_ => random.Next(1, 1000)).ToArray();
        var requests = Enumerable.Range(0, 8).Select(i => EngineFixture.Greedy(
            [.. shared, .. Enumerable.Range(0, 3 + i).Select(_ => random.Next(1, 1000))], 40)).ToArray();
        await RunWave(engine, requests); // warms the cache and the engine before the baseline
        await Poll.UntilAsync(() => engine.Status is { RunningRequests: 0, KvBlocksInUse: 0 });
        var alone = new List<int[]>();
        foreach (var request in requests)
            alone.Add(EngineFixture.TokenIds((await EngineFixture.Collect(engine, request)).Deltas));
        var baseline = LiveTensors.Settled();

        for (var wave = 0; wave < 3; wave++)
        {
            var together = await RunWave(engine, requests);
            // Eight 75-token sequences in 160 slots: they preempt one another, and recompute on cached blocks.
            for (var i = 0; i < requests.Length; i++)
                if (together[i] is { } tokens)
                    Assert.Equal(alone[i], tokens);
            Assert.Contains(together, t => t is not null);
        }

        await Poll.UntilAsync(() => engine.Status is { RunningRequests: 0, WaitingRequests: 0, KvBlocksInUse: 0 });
        Assert.Equal(0, engine.Status.KvCacheUsage);
        Assert.InRange(engine.Status.KvBlocksCached, 1, TotalBlocks);
        Assert.Equal(baseline, LiveTensors.Now);
    }

    /// <summary>
    /// Runs the requests together: every third is cancelled after its first token and every third (offset 1) has a
    /// deadline it cannot meet; returns the others' tokens (null for those ended early).
    /// </summary>
    private static async Task<int[]?[]> RunWave(InferenceEngine engine, GenerationRequest[] requests) =>
        await Task.WhenAll(requests.Select(async (request, i) =>
        {
            using var cancellation = new CancellationTokenSource();
            var ending = i % 3;
            var sent = ending == 1 ? request with { Deadline = DateTimeOffset.UtcNow.AddMilliseconds(30) } : request;
            var tokens = new List<int>();
            try
            {
                await foreach (var update in engine.GenerateAsync(sent, cancellation.Token))
                {
                    if (update is TokenDelta delta)
                    {
                        tokens.AddRange(delta.TokenIds);
                        if (ending == 0)
                            await cancellation.CancelAsync();
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or DeadlineExceededException)
            {
                return null;
            }
            return ending == 2 ? tokens.ToArray() : null;
        }));
}
