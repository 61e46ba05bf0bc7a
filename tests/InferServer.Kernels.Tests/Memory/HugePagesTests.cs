using System.Globalization;
using InferServer.Kernels.Memory;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Memory;

/// <summary>
/// Weights on 2 MiB pages: where the system allows them (Linux, transparent huge pages "madvise" or "always") the kernel's own
/// accounting (/proc/self/smaps) must show the tensor's memory on huge pages, values unchanged; elsewhere nothing changes and
/// the placement says why.
/// </summary>
public sealed class HugePagesTests
{
    private const long Bytes = 16L << 20;

    [Fact]
    public void Back_PutsAWrittenTensorOnHugePages_WithItsValuesUnchanged()
    {
        using var scope = NewDisposeScope();
        var tensor = randn(Bytes / sizeof(float)); // written on whatever pages the allocator had: the collapse must move it
        var before = tensor.clone();

        var placement = HugePages.Back([tensor]);

        Assert.True(placement.CandidateBytes >= Bytes - (2 * HugePages.PageBytes), $"candidate bytes {placement.CandidateBytes}");
        Assert.True(tensor.eq(before).all().item<bool>());
        AssertPlacedWhereTheSystemAllows(tensor, placement);
    }

    [Fact]
    public void AdviseBeforeTheFirstWrite_ThenBack_AsTheLoaderDoes_EndsOnHugePages()
    {
        // Whether the advice alone faults pages in huge is up to the allocator (memory it recycles is already on 4 KiB
        // pages) and the kernel (no free 2 MiB page at hand); Back's collapse is what guarantees the placement.
        using var scope = NewDisposeScope();
        var tensor = empty(Bytes / sizeof(float));
        HugePages.Advise(tensor);
        tensor.fill_(1.5f);

        var placement = HugePages.Back([tensor]);

        Assert.True(tensor.eq(1.5f).all().item<bool>());
        AssertPlacedWhereTheSystemAllows(tensor, placement);
    }

    [Fact]
    public void Zeros_IsZeroFilled_AndOnHugePagesAfterBack()
    {
        using var scope = NewDisposeScope();
        var tensor = HugePages.Zeros([Bytes / sizeof(float) / 64, 64], TorchSharp.torch.ScalarType.Float32, CPU);

        var placement = HugePages.Back([tensor]);

        Assert.Equal([Bytes / sizeof(float) / 64, 64], tensor.shape);
        Assert.True(tensor.eq(0f).all().item<bool>());
        AssertPlacedWhereTheSystemAllows(tensor, placement);
    }

    [Fact]
    public void Back_SkipsTensorsSmallerThanAPage_AndNonContiguousOnes()
    {
        using var scope = NewDisposeScope();
        var small = randn(1000);
        var transposed = randn(2048, 2048).t();

        var placement = HugePages.Back([small, transposed]);

        Assert.Equal(0, placement.CandidateBytes);
        Assert.Equal(0, placement.HugeBytes);
    }

    [Fact]
    public void Advise_TakesATensorBeyond2GiB()
    {
        // NewParameter advises every weight; a float32 embedding of 152k tokens × 3,584 features is 2.2 GB, beyond what
        // TorchSharp's Tensor.bytes will span (it throws there). empty() only reserves the memory: nothing is written here.
        using var scope = NewDisposeScope();
        var tensor = empty((int.MaxValue / sizeof(float)) + (HugePages.PageBytes / sizeof(float)));

        var exception = Record.Exception(() => HugePages.Advise(tensor));

        Assert.Null(exception);
    }

    private static void AssertPlacedWhereTheSystemAllows(TorchSharp.torch.Tensor tensor, HugePagePlacement placement)
    {
        if (!OperatingSystem.IsLinux() || placement.Mode == "never")
        {
            Assert.Equal(0, placement.HugeBytes);
            Assert.NotNull(placement.Failure);
            return;
        }

        Assert.Null(placement.Failure);
        Assert.Equal(placement.CandidateBytes, placement.HugeBytes);
        Assert.True(AnonHugeBytesAround(tensor) >= placement.HugeBytes,
            $"smaps shows {AnonHugeBytesAround(tensor)} bytes of huge pages in the tensor's mapping, expected {placement.HugeBytes}");
    }

    /// <summary>AnonHugePages of the mappings that overlap the tensor's storage, as the kernel accounts them.</summary>
    private static long AnonHugeBytesAround(TorchSharp.torch.Tensor tensor)
    {
        var start = (ulong)StorageAddress(tensor);
        var end = start + (ulong)tensor.bytes.Length;
        long total = 0;
        var inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var dash = line.IndexOf('-', StringComparison.Ordinal);
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (dash > 0 && space > dash && ulong.TryParse(line[..dash], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var low)
                && ulong.TryParse(line[(dash + 1)..space], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var high))
            {
                inside = low < end && high > start;
            }
            else if (inside && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
            {
                total += long.Parse(line["AnonHugePages:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return total;
    }

    private static unsafe nint StorageAddress(TorchSharp.torch.Tensor tensor)
    {
        fixed (byte* pointer = tensor.bytes)
        {
            return (nint)pointer;
        }
    }
}
