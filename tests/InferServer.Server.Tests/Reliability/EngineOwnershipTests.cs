using InferServer.AdapterStore.Configuration;
using InferServer.Engine;
using InferServer.Engine.Tests;

namespace InferServer.Server.Tests.Reliability;

/// <summary>
/// Pins, queue places, slots and KV blocks are released exactly once on every path: refusal, cancellation, deadline,
/// load failure and timeout, unload, shutdown. Each test drives one path the way a client would and checks what the
/// engine holds afterwards.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class EngineOwnershipTests
{
    private static readonly int[] Prompt = [5, 17, 42, 99];
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AClassifyRefusedBecauseTheEngineStopped_HoldsNoPin()
    {
        await using var engine = StoreBackedEngine.Start(new EngineOptions(), classifier: true);
        await engine.Engine.ClassifyAsync(new ClassificationRequest("qv-r8-cls3", ["warm"])).WaitAsync(Timeout);
        await engine.Engine.StopAsync(TimeSpan.Zero);

        await Assert.ThrowsAsync<EngineStoppedException>(() => engine.Engine.ClassifyAsync(new ClassificationRequest("qv-r8-cls3", ["x"])));

        Assert.Equal(0, engine.Store.RequestPins);
    }

    [Fact]
    public async Task AClassifyRefusedBecauseTheQueueIsFull_HoldsNoPin_AndTheQueuedOneStillCompletes()
    {
        await using var engine = StoreBackedEngine.Start(new EngineOptions { MaxQueuedRequests = 1 }, classifier: true);
        engine.Adapters.CloseGate("qv-r8-cls3");
        var queued = engine.Engine.ClassifyAsync(new ClassificationRequest("qv-r8-cls3", ["waits for its adapter"]));

        await Assert.ThrowsAsync<QueueFullException>(() => engine.Engine.ClassifyAsync(new ClassificationRequest("qv-r4-cls2", ["refused"])));
        engine.Adapters.OpenGate("qv-r8-cls3");
        await queued.WaitAsync(Timeout);

        await Poll.UntilAsync(() => engine.Store.RequestPins == 0);
        await Poll.UntilAsync(() => engine.Engine.Status.WaitingRequests == 0); // the status is refreshed by the loop
    }

    [Fact]
    public async Task TheClassifyQueueBound_HoldsAfterStepsThatFilledUpBeforeReachingAJob()
    {
        // Two rows per step: a two-text job fills each step, so later jobs are passed over (with no row taken) again
        // and again. The bound must still count each queued job once.
        await using var engine = StoreBackedEngine.Start(new EngineOptions { MaxQueuedRequests = 2, MaxBatchRows = 2, MaxBatchTokens = 64 }, classifier: true);
        for (var round = 0; round < 5; round++)
            await Task.WhenAll(
                engine.Engine.ClassifyAsync(new ClassificationRequest(null, ["one text", "two texts"])),
                engine.Engine.ClassifyAsync(new ClassificationRequest(null, ["passed over"]))).WaitAsync(Timeout);
        // The status is published at the end of the step that completed the last job, just after the completion: it is
        // read by polling here, as everywhere (a count that stayed wrong still fails, at the timeout).
        await Poll.UntilAsync(() => engine.Engine.Status.WaitingRequests == 0, Timeout);

        engine.Adapters.CloseGate("qv-r8-cls3");
        var held = new[]
        {
            engine.Engine.ClassifyAsync(new ClassificationRequest("qv-r8-cls3", ["a"])),
            engine.Engine.ClassifyAsync(new ClassificationRequest("qv-r8-cls3", ["b"])),
        };
        await Assert.ThrowsAsync<QueueFullException>(() => engine.Engine.ClassifyAsync(new ClassificationRequest(null, ["over the bound"])));
        engine.Adapters.OpenGate("qv-r8-cls3");
        await Task.WhenAll(held).WaitAsync(Timeout);
    }

    [Fact]
    public async Task AnOverdueRequestWhoseAdapterIsStillLoading_DoesNotBlockOthers()
    {
        await using var engine = StoreBackedEngine.Start(new EngineOptions { MaxQueueWaitBeforePriority = TimeSpan.Zero, KvCacheBytes = 8L << 20 });
        engine.Adapters.CloseGate("qv-r8");
        var loading = EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 4, "qv-r8"));

        var (baseDeltas, _) = await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 4)).WaitAsync(Timeout);
        var (residentDeltas, _) = await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 4, "all-r16")).WaitAsync(Timeout);

        Assert.Equal(4, EngineFixture.TokenIds(baseDeltas).Length);
        Assert.Equal(4, EngineFixture.TokenIds(residentDeltas).Length);
        Assert.False(loading.IsCompleted);
        engine.Adapters.OpenGate("qv-r8");
        await loading.WaitAsync(Timeout);
    }

    [Fact]
    public async Task ARequestWhosePinFailedAtOnce_FailsAtOnce_AndBlocksNobody()
    {
        // Found by the 10-minute soak: an adapter unloaded between a request's registration check and its pin made the
        // pin fail synchronously; the request was never reaped, and once overdue it blocked every admission behind it
        // until its deadline (two minutes of a server serving nobody).
        await using var engine = StoreBackedEngine.Start(new EngineOptions { MaxQueueWaitBeforePriority = TimeSpan.Zero, KvCacheBytes = 8L << 20 });
        engine.Adapters.FailingPins["qv-r8"] = true;

        var failed = EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 4, "qv-r8"));
        var (baseDeltas, _) = await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 4)).WaitAsync(Timeout);

        Assert.Equal(4, EngineFixture.TokenIds(baseDeltas).Length);
        await Assert.ThrowsAsync<InferServer.AdapterStore.AdapterNotFoundException>(() => failed.WaitAsync(Timeout));
        await Poll.UntilAsync(() => engine.Engine.Status.WaitingRequests == 0, Timeout);
    }

    [Fact]
    public async Task ALoadThatHangs_FailsTheRequestAfterTheLoadTimeout_AndTheLateLeaseIsReleased()
    {
        await using var engine = StoreBackedEngine.Start(new EngineOptions { AdapterLoadTimeout = TimeSpan.FromMilliseconds(300), KvCacheBytes = 8L << 20 });
        engine.Adapters.CloseGate("qv-r8");

        var timedOut = await Assert.ThrowsAsync<AdapterLoadTimeoutException>(() => EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 4, "qv-r8")).WaitAsync(Timeout));
        Assert.Equal("qv-r8", timedOut.Adapter);
        await Poll.UntilAsync(() => engine.Engine.Status.WaitingRequests == 0, Timeout);

        engine.Adapters.OpenGate("qv-r8");
        await Poll.UntilAsync(() => engine.Store.RequestPins == 0);
        await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 4, "qv-r8")).WaitAsync(Timeout);
    }

    [Fact]
    public async Task UnloadingAnIdleAdapter_FreesItsHostCopy_DeviceSlot_AndMergedCopy()
    {
        var options = new AdapterStoreOptions
        {
            AdapterRoots = [Path.Combine(ReferenceFixtures.Root, "llama-tiny", "adapters")],
            DeviceSlots = 4,
            MaxRank = 16,
            MergeEnabled = true,
            MergeWindow = 4,
            MergeMinShare = 0.5,
        };
        await using var engine = StoreBackedEngine.Start(new EngineOptions { KvCacheBytes = 8L << 20 }, options);
        for (var i = 0; i < 6; i++)
            await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 3, "qv-r8")).WaitAsync(Timeout);
        await Poll.UntilAsync(() => engine.Engine.Status.Adapters is { MergedAdapters: 1, DeviceResident: 1, HostAdapters: 1 });

        await engine.Store.UnloadAsync("qv-r8", CancellationToken.None);

        await Poll.UntilAsync(() => engine.Engine.Status.Adapters is
        { HostAdapters: 0, HostBytes: 0, DeviceResident: 0, DeviceResidentBytes: 0, MergedAdapters: 0, MergedBytes: 0, HostPins: 0 });
    }

    [Fact]
    public async Task ARequestWaitingForKvBlocks_IsCountedAsTrafficOnce_AndPinsASlotOnlyWhenAdmitted()
    {
        // Room for about one full-context sequence: the second waits for blocks while the first runs.
        await using var engine = StoreBackedEngine.Start(new EngineOptions { KvCacheBytes = 160 * 2 * 2 * 2 * 16 * 4, MaxContextTokens = 128 });
        var first = EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 120, "qv-r8"));
        var second = EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 120, "qv-r8"));

        await Task.WhenAll(first, second).WaitAsync(Timeout);

        Assert.Equal(2, engine.Adapters.RecordedRequests);
        Assert.True(engine.Adapters.SlotAcquisitions <= 4, $"{engine.Adapters.SlotAcquisitions} slot acquisitions for two requests");
        await Poll.UntilAsync(() => engine.Engine.Status.KvBlocksInUse == 0, Timeout);
    }

    [Fact]
    public async Task RequestsArrivingWhileTheEngineStops_AllEnd_NoneHangs()
    {
        await using var engine = StoreBackedEngine.Start(new EngineOptions { KvCacheBytes = 8L << 20 });
        using var submitting = new CancellationTokenSource();
        var calls = new List<Task>();
        var submitters = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            for (var i = 0; !submitting.IsCancellationRequested; i++)
            {
                var call = EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 2 + i % 5, i % 2 == 0 ? "qv-r8" : null));
                lock (calls)
                    calls.Add(call);
                await Task.Yield();
            }
        })).ToArray();
        await Task.Delay(200);

        await engine.Engine.StopAsync(TimeSpan.Zero);
        submitting.Cancel();
        await Task.WhenAll(submitters).ContinueWith(_ => { });

        Task[] all;
        lock (calls)
            all = [.. calls];
        await Task.WhenAll(all.Select(call => call.ContinueWith(_ => { }))).WaitAsync(Timeout);
        // Each ended with its answer or a clean refusal (stopping, or the queue full while four submitters pump).
        Assert.All(all, call => Assert.True(call.IsCompletedSuccessfully || call.Exception?.InnerException is EngineStoppedException or QueueFullException,
            call.Exception?.InnerException?.ToString()));
        await Poll.UntilAsync(() => engine.Store.RequestPins == 0);
    }
}
