using System.Diagnostics;
using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using TorchSharp;

namespace InferServer.AdapterStore.Tests.Registry;

/// <summary>
/// The files inside an adapter directory are confined like the directory itself: every file the loader opens must be a
/// regular file, inside the allowed roots, configs capped in size, checked again on every read (also after eviction).
/// A link to /dev/zero, a FIFO or a file outside the roots is refused with a clear problem, quickly, naming no server path.
/// </summary>
public sealed class AdapterFileConfinementTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly TemporaryDirectory root = new();
    private readonly TemporaryDirectory outside = new();

    public void Dispose()
    {
        root.Dispose();
        outside.Dispose();
    }

    [Fact]
    public async Task AConfigLinkingOutsideTheRoots_IsRefused()
    {
        var directory = SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        var secret = Path.Combine(outside.Path, "adapter_config.json");
        File.Move(Path.Combine(directory, "adapter_config.json"), secret);
        File.CreateSymbolicLink(Path.Combine(directory, "adapter_config.json"), secret);

        var error = await RefusedAsync("a");

        Assert.Contains("adapter_config.json links outside the allowed adapter roots", error.Problems);
        Assert.DoesNotContain(outside.Path, string.Join(" ", error.Problems));
    }

    [Fact]
    public async Task AConfigLinkedToDevZero_IsRefusedAtOnce()
    {
        var directory = SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        File.Delete(Path.Combine(directory, "adapter_config.json"));
        File.CreateSymbolicLink(Path.Combine(directory, "adapter_config.json"), "/dev/zero");

        var error = await RefusedAsync("a");

        Assert.Contains(error.Problems, problem => problem.StartsWith("adapter_config.json", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AFifoInsteadOfTheWeights_IsRefusedWithoutBlocking()
    {
        var directory = SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        File.Delete(Path.Combine(directory, LoraAdapterLoader.WeightsFileName));
        MakeFifo(Path.Combine(directory, LoraAdapterLoader.WeightsFileName));

        var error = await RefusedAsync("a"); // a blocking open would hang here until the timeout

        Assert.Contains($"{LoraAdapterLoader.WeightsFileName} is not a regular file", error.Problems);
    }

    [Fact]
    public async Task AnOversizedConfig_IsRefused()
    {
        var directory = SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        var config = File.ReadAllText(Path.Combine(directory, "adapter_config.json"));
        File.WriteAllText(Path.Combine(directory, "adapter_config.json"), config + new string(' ', (int)ConfinedFile.MaxConfigBytes));

        var error = await RefusedAsync("a");

        Assert.Contains(error.Problems, problem => problem.Contains("more than the 1048576 allowed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WeightsSwappedForALinkAfterEviction_AreRefusedOnTheNextRead()
    {
        var directory = SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        SyntheticAdapters.Write(root.File("b"), rank: 4, seed: 2);
        using var store = NewStore(hostMaxAdapters: 1);
        (await store.AcquireHostAsync("a", CancellationToken.None)).Dispose();
        (await store.AcquireHostAsync("b", CancellationToken.None)).Dispose(); // evicts a's host copy
        var weights = Path.Combine(directory, LoraAdapterLoader.WeightsFileName);
        File.Move(weights, Path.Combine(outside.Path, LoraAdapterLoader.WeightsFileName));
        File.CreateSymbolicLink(weights, Path.Combine(outside.Path, LoraAdapterLoader.WeightsFileName));

        var error = await Assert.ThrowsAsync<InvalidAdapterException>(() => store.AcquireHostAsync("a", CancellationToken.None).WaitAsync(Timeout));

        Assert.Contains($"{LoraAdapterLoader.WeightsFileName} links outside the allowed adapter roots", error.Problems);
        Assert.Equal(0, store.RequestPins);
    }

    private async Task<InvalidAdapterException> RefusedAsync(string name)
    {
        using var store = NewStore();
        var error = await Assert.ThrowsAsync<InvalidAdapterException>(() => store.AcquireHostAsync(name, CancellationToken.None).WaitAsync(Timeout));
        Assert.Equal(0, store.RequestPins);
        return error;
    }

    private AdapterRegistry NewStore(int hostMaxAdapters = 64) =>
        new(new AdapterStoreOptions { AdapterRoots = [root.Path], HostMaxAdapters = hostMaxAdapters, MaxRank = 64 }, SyntheticAdapters.Spec, torch.ScalarType.Float32);

    private static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }
}
