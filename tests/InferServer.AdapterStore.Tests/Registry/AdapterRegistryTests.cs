using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using TorchSharp;

namespace InferServer.AdapterStore.Tests.Registry;

public sealed class AdapterRegistryTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly TemporaryDirectory root = new();
    private readonly TemporaryDirectory outside = new();
    private readonly List<AdapterEvent> events = [];

    public void Dispose()
    {
        root.Dispose();
        outside.Dispose();
    }

    [Fact]
    public async Task ConcurrentRequestsForOneAdapter_ShareASingleLoad()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        using var store = NewStore();

        var adapters = await Task.WhenAll(Enumerable.Range(0, 16)
            .Select(_ => Task.Run(() => store.AcquireHostAsync("a", CancellationToken.None)))).WaitAsync(Timeout);

        Assert.All(adapters, lease => Assert.Same(adapters[0].Adapter, lease.Adapter));
        Assert.Single(EventsOf(AdapterEventKind.Loaded));
        Assert.Equal(16, store.Get("a").RequestsServed);
        foreach (var lease in adapters)
        {
            lease.Dispose();
        }
    }

    [Fact]
    public async Task FailedLoad_ReachesEveryWaiter_AndOtherAdaptersKeepWorking()
    {
        SyntheticAdapters.Write(root.File("good"), rank: 4, seed: 1);
        SyntheticAdapters.Write(root.File("bad"), rank: 4, seed: 2);
        File.Delete(Path.Combine(root.File("bad"), LoraAdapterLoader.WeightsFileName));
        using var store = NewStore();
        var goodLease = await store.AcquireHostAsync("good", CancellationToken.None);
        var good = goodLease.Adapter;

        var waiters = Enumerable.Range(0, 4).Select(_ => store.AcquireHostAsync("bad", CancellationToken.None)).ToList();

        foreach (var waiter in waiters)
        {
            var error = await Assert.ThrowsAsync<InvalidAdapterException>(() => waiter.WaitAsync(Timeout));
            Assert.Contains("adapter_model.safetensors is missing", error.Message);
        }

        Assert.NotEmpty(EventsOf(AdapterEventKind.LoadFailed));
        using (var again = await store.AcquireHostAsync("good", CancellationToken.None))
        {
            Assert.Same(good, again.Adapter);
        }
        Assert.Equal(AdapterTier.Host, store.Get("good").Tier);
        Assert.Equal(good.TotalBytes, store.HostBytes);
        goodLease.Dispose();
    }

    [Fact]
    public async Task AdapterUnderARoot_IsFoundOnFirstRequest_AndListedOnDiskBeforeThat()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        SyntheticAdapters.Write(root.File("b"), rank: 2, seed: 2);
        using var store = NewStore();

        Assert.Equal([("a", AdapterTier.Disk), ("b", AdapterTier.Disk)], store.List().Select(info => (info.Name, info.Tier)));
        var aLease = await store.AcquireHostAsync("a", CancellationToken.None);
        var a = aLease.Adapter;

        var info = store.Get("a");
        Assert.Equal((AdapterTier.Host, 4, 4, a.TotalBytes), (info.Tier, info.Rank, info.TargetModules.Count, info.Bytes));
        Assert.Equal("CAUSAL_LM", info.TaskType);
        Assert.Equal([("a", AdapterTier.Host), ("b", AdapterTier.Disk)], store.List().Select(i => (i.Name, i.Tier)));
        await Assert.ThrowsAsync<AdapterNotFoundException>(() => store.AcquireHostAsync("missing", CancellationToken.None));
        aLease.Dispose();
    }

    [Fact]
    public async Task HostTier_EvictsTheLeastRecentlyUsedAdapter_WhenOverTheAdapterCount()
    {
        foreach (string name in new[] { "a", "b", "c" })
        {
            SyntheticAdapters.Write(root.File(name), rank: 4, seed: name[0]);
        }

        using var store = NewStore(new() { HostMaxAdapters = 2 });
        await UseOnce(store, "a");
        await UseOnce(store, "b");
        await UseOnce(store, "a");
        await UseOnce(store, "c");

        Assert.Equal(AdapterTier.Host, store.Get("a").Tier);
        Assert.Equal(AdapterTier.Disk, store.Get("b").Tier);
        Assert.Equal(AdapterTier.Host, store.Get("c").Tier);
        Assert.Equal(2, store.HostAdapterCount);
        Assert.Equal("b", Assert.Single(EventsOf(AdapterEventKind.Evicted)).Name);
    }

    [Fact]
    public async Task HostTier_EvictsTheLeastRecentlyUsedAdapter_WhenOverTheByteBudget()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        SyntheticAdapters.Write(root.File("b"), rank: 4, seed: 2);
        long bytes;
        using (var probe = NewStore())
        {
            var adapterLease = await probe.AcquireHostAsync("a", CancellationToken.None);
            var adapter = adapterLease.Adapter;
            bytes = adapter.TotalBytes;
            adapterLease.Dispose();
        }

        using var store = NewStore(new() { HostMaxBytes = bytes + bytes / 2 });
        await UseOnce(store, "a");
        await UseOnce(store, "b");

        Assert.Equal(AdapterTier.Disk, store.Get("a").Tier);
        Assert.Equal(AdapterTier.Host, store.Get("b").Tier);
        Assert.Equal(bytes, store.HostBytes);
    }

    [Fact]
    public async Task PinnedHostAdapter_IsNeverEvicted_EvenOverBudget()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        SyntheticAdapters.Write(root.File("b"), rank: 4, seed: 2);
        using var store = NewStore(new() { HostMaxAdapters = 1 });
        var aLease = await store.AcquireHostAsync("a", CancellationToken.None);
        var a = aLease.Adapter;

        await UseOnce(store, "b");

        Assert.Equal(AdapterTier.Host, store.Get("a").Tier);
        Assert.Equal(AdapterTier.Disk, store.Get("b").Tier);
        Assert.Equal(new long[] { 4, 16 }, a.Modules[SyntheticAdapters.Q0].A.shape); // not disposed
        aLease.Dispose();
        Assert.Equal(1, store.HostAdapterCount);
    }

    [Fact]
    public async Task Unload_Drains_NewRequestsAreRefusedWhileRunningOnesKeepTheirWeights()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        using var store = NewStore();
        var runningLease = await store.AcquireHostAsync("a", CancellationToken.None);
        var running = runningLease.Adapter;
        using var expected = running.Modules[SyntheticAdapters.V1].B.clone();

        await store.UnloadAsync("a", CancellationToken.None);

        Assert.Throws<AdapterNotFoundException>(() => store.Get("a"));
        await Assert.ThrowsAsync<AdapterNotFoundException>(() => store.AcquireHostAsync("a", CancellationToken.None));
        Assert.DoesNotContain(store.List(), info => info.Name == "a");
        TensorAssert.Identical(expected, running.Modules[SyntheticAdapters.V1].B);
        Assert.Equal(running.TotalBytes, store.HostBytes);

        runningLease.Dispose();

        Assert.Equal(0, store.HostBytes);
        Assert.Equal(0, store.HostAdapterCount);
        Assert.Single(EventsOf(AdapterEventKind.Unloaded));
        await Assert.ThrowsAsync<AdapterNotFoundException>(() => store.UnloadAsync("a", CancellationToken.None));
    }

    [Fact]
    public async Task UnloadedRootAdapter_ComesBackOnlyByAnExplicitLoad()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        using var store = NewStore();
        await UseOnce(store, "a");
        await store.UnloadAsync("a", CancellationToken.None);

        var info = await store.LoadAsync("a", directory: null, reload: false, CancellationToken.None);

        Assert.Equal(AdapterTier.Host, info.Tier);
        await UseOnce(store, "a");
    }

    [Fact]
    public async Task Reload_PicksUpTheChangedDirectory_WhileTheOldVersionDrains()
    {
        string directory = SyntheticAdapters.Write(outside.File("a"), rank: 4, seed: 1);
        using var store = NewStore(new() { AllowedLoadRoots = [outside.Path] });
        await store.LoadAsync("a", directory, reload: false, CancellationToken.None);
        var oldLease = await store.AcquireHostAsync("a", CancellationToken.None);
        var old = oldLease.Adapter;
        using var oldA = old.Modules[SyntheticAdapters.Q0].A.clone();
        using var changed = torch.full([4, 16], 0.25f);
        SyntheticAdapters.Replace(directory, $"base_model.model.{SyntheticAdapters.Q0}.lora_A.weight", changed);

        await store.LoadAsync("a", directory, reload: true, CancellationToken.None);
        var currentLease = await store.AcquireHostAsync("a", CancellationToken.None);
        var current = currentLease.Adapter;

        Assert.NotSame(old, current);
        TensorAssert.Identical(changed, current.Modules[SyntheticAdapters.Q0].A);
        TensorAssert.Identical(oldA, old.Modules[SyntheticAdapters.Q0].A);
        Assert.Equal(2, store.HostAdapterCount);
        oldLease.Dispose();
        Assert.Equal((1, current.TotalBytes), (store.HostAdapterCount, store.HostBytes));
        currentLease.Dispose();
    }

    [Fact]
    public async Task FailedReload_KeepsTheServingVersion()
    {
        string directory = SyntheticAdapters.Write(outside.File("a"), rank: 4, seed: 1);
        using var store = NewStore(new() { AllowedLoadRoots = [outside.Path] });
        await store.LoadAsync("a", directory, reload: false, CancellationToken.None);
        var beforeLease = await store.AcquireHostAsync("a", CancellationToken.None);
        var before = beforeLease.Adapter;
        beforeLease.Dispose();
        File.WriteAllText(Path.Combine(directory, LoraAdapterLoader.ConfigFileName), "{");

        await Assert.ThrowsAsync<InvalidAdapterException>(() => store.LoadAsync("a", directory, reload: true, CancellationToken.None));

        var afterLease = await store.AcquireHostAsync("a", CancellationToken.None);
        var after = afterLease.Adapter;
        Assert.Same(before, after);
        afterLease.Dispose();
    }

    [Fact]
    public async Task ExplicitLoad_IsIdempotentForTheSameDirectory()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        using var store = NewStore();

        var first = await store.LoadAsync("a", root.File("a"), reload: false, CancellationToken.None);
        var second = await store.LoadAsync("a", root.File("a") + "/.", reload: false, CancellationToken.None);

        Assert.Equal(first.Directory, second.Directory);
        Assert.Single(EventsOf(AdapterEventKind.Loaded));
    }

    [Fact]
    public async Task RequestCounters_CountEachAcquisition_AndStampTheLastUseFromTheTimeProvider()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        var clock = new ManualTimeProvider(new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero));
        using var store = new AdapterRegistry(Options(new()), SyntheticAdapters.Spec, torch.ScalarType.Float32, clock);

        await UseOnce(store, "a");
        clock.Now += TimeSpan.FromMinutes(5);
        await UseOnce(store, "a");

        var info = store.Get("a");
        Assert.Equal(2, info.RequestsServed);
        Assert.Equal(clock.Now, info.LastUsed);
    }

    [Theory]
    [InlineData("missing-config", "adapter_config.json is missing")]
    [InlineData("missing-weights", "adapter_model.safetensors is missing")]
    [InlineData("truncated-weights", "adapter_model.safetensors")]
    [InlineData("module-the-base-lacks", "maps to no adaptable module")]
    [InlineData("rank-above-max", "above the maximum rank 8")]
    [InlineData("wrong-shape", "should be [r, 16]")]
    [InlineData("another-base-model", "should be [r, 16]")]
    public async Task BadAdapter_IsRefusedWithAClearMessage_WhileLoadedAdaptersKeepWorking(string problem, string message)
    {
        SyntheticAdapters.Write(root.File("good"), rank: 4, seed: 1);
        string bad = root.File("bad");
        switch (problem)
        {
            case "missing-config":
                File.Delete(Path.Combine(SyntheticAdapters.Write(bad, 4, 2), LoraAdapterLoader.ConfigFileName));
                break;
            case "missing-weights":
                File.Delete(Path.Combine(SyntheticAdapters.Write(bad, 4, 2), LoraAdapterLoader.WeightsFileName));
                break;
            case "truncated-weights":
                string weights = Path.Combine(SyntheticAdapters.Write(bad, 4, 2), LoraAdapterLoader.WeightsFileName);
                File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..200]);
                break;
            case "module-the-base-lacks":
                var wider = SyntheticAdapters.Spec with
                {
                    Modules = new Dictionary<string, LinearModuleShape>(SyntheticAdapters.Spec.Modules) { ["model.layers.0.mlp.up_proj"] = new(16, 32) },
                };
                SyntheticAdapters.Write(bad, 4, 2, [SyntheticAdapters.Q0, "model.layers.0.mlp.up_proj"], spec: wider);
                break;
            case "rank-above-max":
                SyntheticAdapters.Write(bad, 16, 2);
                break;
            case "wrong-shape":
                SyntheticAdapters.Write(bad, 4, 2);
                using (var wrong = torch.zeros(4, 17))
                {
                    SyntheticAdapters.Replace(bad, $"base_model.model.{SyntheticAdapters.Q0}.lora_A.weight", wrong);
                }

                break;
            case "another-base-model":
                var bigger = SyntheticAdapters.Spec with
                {
                    Modules = SyntheticAdapters.Spec.Modules.ToDictionary(pair => pair.Key, pair => new LinearModuleShape(32, pair.Value.OutFeatures * 2)),
                    HiddenSize = 32,
                };
                SyntheticAdapters.Write(bad, 4, 2, spec: bigger);
                break;
        }

        using var store = NewStore(new() { MaxRank = 8 });
        var goodLease = await store.AcquireHostAsync("good", CancellationToken.None);
        var good = goodLease.Adapter;

        var error = await Assert.ThrowsAsync<InvalidAdapterException>(() => store.LoadAsync("bad", null, reload: false, CancellationToken.None));
        Assert.Contains(message, error.Message);
        Assert.Contains("'bad'", error.Message);
        await Assert.ThrowsAsync<InvalidAdapterException>(() => store.AcquireHostAsync("bad", CancellationToken.None));

        using (var again = await store.AcquireHostAsync("good", CancellationToken.None))
        {
            Assert.Same(good, again.Adapter);
        }
        Assert.Equal(AdapterTier.Host, store.Get("good").Tier);
        Assert.DoesNotContain(store.List(), info => info.Name == "bad" && info.Tier != AdapterTier.Disk);
        goodLease.Dispose();
    }

    [Fact]
    public async Task SameNameFromAnotherDirectory_IsAConflict_UnlessReloading()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        string other = SyntheticAdapters.Write(root.File("other"), rank: 2, seed: 2);
        using var store = NewStore();
        await store.LoadAsync("a", null, reload: false, CancellationToken.None);

        var error = await Assert.ThrowsAsync<AdapterConflictException>(() => store.LoadAsync("a", other, reload: false, CancellationToken.None));
        Assert.Contains("already registered from", error.Message);
        Assert.Equal(4, store.Get("a").Rank);

        var reloaded = await store.LoadAsync("a", other, reload: true, CancellationToken.None);
        Assert.Equal((2, AdapterPaths.RealPath(other)), (reloaded.Rank, reloaded.Directory));
    }

    [Fact]
    public async Task PathOutsideTheAllowedRoots_IsRefused_IncludingTraversalAndSymlinks()
    {
        SyntheticAdapters.Write(outside.File("x"), rank: 4, seed: 1);
        Directory.CreateSymbolicLink(root.File("link"), outside.File("x"));
        using var store = NewStore();

        var traversal = await Assert.ThrowsAsync<AdapterPathException>(
            () => store.LoadAsync("x", Path.Combine(root.Path, "..", Path.GetFileName(outside.Path), "x"), reload: false, CancellationToken.None));
        Assert.Contains("outside the allowed adapter roots", traversal.Message);
        await Assert.ThrowsAsync<AdapterPathException>(() => store.LoadAsync("x", root.File("link"), reload: false, CancellationToken.None));
        await Assert.ThrowsAsync<AdapterPathException>(() => store.AcquireHostAsync("link", CancellationToken.None));
        Assert.Empty(EventsOf(AdapterEventKind.Loaded));
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("../x")]
    [InlineData(".hidden")]
    [InlineData("")]
    public async Task MalformedName_IsRefusedBeforeAnyFileIsTouched(string name)
    {
        using var store = NewStore();

        await Assert.ThrowsAsync<InvalidAdapterNameException>(() => store.LoadAsync(name, null, reload: false, CancellationToken.None));
        await Assert.ThrowsAsync<InvalidAdapterNameException>(() => store.AcquireHostAsync(name, CancellationToken.None));
        Assert.Throws<InvalidAdapterNameException>(() => store.Get(name));
    }

    [Fact]
    public async Task Preload_LoadsTheConfiguredAdapters_AndReportsEveryFailure()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        using var store = NewStore(new() { Preload = ["a", "nope", "missing"] });

        var error = await Assert.ThrowsAsync<AdapterPreloadException>(() => store.PreloadAsync(CancellationToken.None));

        Assert.Equal(["nope", "missing"], error.Failures.Select(failure => failure.Key));
        Assert.All(error.Failures, failure => Assert.IsType<AdapterNotFoundException>(failure.Value));
        Assert.Equal("2 preloaded adapter(s) could not be loaded: nope (adapter 'nope' is not registered on this server); "
            + "missing (adapter 'missing' is not registered on this server)", error.Message);
        Assert.Equal(AdapterTier.Host, store.Get("a").Tier);
    }

    [Fact]
    public async Task APreloadFailingForManyAdapters_NamesFive_AndCountsTheRest()
    {
        using var store = NewStore(new() { Preload = [.. Enumerable.Range(0, 64).Select(i => $"missing-{i}")] });

        var error = await Assert.ThrowsAsync<AdapterPreloadException>(() => store.PreloadAsync(CancellationToken.None));

        Assert.Equal(64, error.Failures.Count);
        Assert.StartsWith("64 preloaded adapter(s) could not be loaded: missing-0 (", error.Message);
        Assert.EndsWith("; and 59 more", error.Message);
        Assert.DoesNotContain("missing-5 ", error.Message);
        Assert.True(error.Message.Length < 1024, error.Message);
    }

    private AdapterRegistry NewStore(AdapterStoreOptions? options = null)
    {
        var store = new AdapterRegistry(Options(options ?? new()), SyntheticAdapters.Spec, torch.ScalarType.Float32);
        store.Changed += (_, adapterEvent) =>
        {
            lock (events)
            {
                events.Add(adapterEvent);
            }
        };
        return store;
    }

    private AdapterStoreOptions Options(AdapterStoreOptions options) => options with { AdapterRoots = [root.Path] };

    private List<AdapterEvent> EventsOf(AdapterEventKind kind)
    {
        lock (events)
        {
            return [.. events.Where(adapterEvent => adapterEvent.Kind == kind)];
        }
    }

    private static async Task UseOnce(AdapterRegistry store, string name) =>
        (await store.AcquireHostAsync(name, CancellationToken.None)).Dispose();
}
