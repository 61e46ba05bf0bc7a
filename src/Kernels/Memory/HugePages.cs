using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Memory;

/// <summary>
/// Backs long-lived CPU tensors (a model's weights) with Linux's 2 MiB transparent huge pages instead of 4 KiB pages.
/// </summary>
/// <remarks>
/// Why: decoding a few sequences reads every weight once per token, and on 4 KiB pages each 4 KiB of that stream costs a
/// TLB miss. On the development VM the 29 projections of the large benchmark model at one row took 25.3-25.9 ms on 4 KiB
/// pages and 18.9-21.1 ms on 2 MiB pages, 8 rows 99 → 65 ms (docs/benchmarks.md, issue 29). Most distributions set
/// transparent huge pages to "madvise", where only memory that asks gets them, and libtorch's allocator never asks.
/// Two calls: <see cref="Advise"/> on a tensor just allocated and not yet written (where its pages are new to the process
/// and a free 2 MiB page is at hand, they fault in huge, free of cost), and <see cref="Back"/> once the tensors are filled,
/// which guarantees the placement by collapsing whatever is still on small pages (memory the allocator recycled) (MADV_COLLAPSE, Linux 6.1+; synchronous, about 2 s per GB on that VM). Only the
/// 2 MiB-aligned interior of a tensor can be a huge page; tensors under 2 MiB are left as they are. Anywhere else (another
/// OS, CUDA, transparent huge pages "never", an older kernel) nothing changes and <see cref="Back"/> says why.
/// </remarks>
public static partial class HugePages
{
    /// <summary>The size of one x86-64 / arm64 transparent huge page.</summary>
    public const long PageBytes = 2L << 20;

    private const int MadviseHugePage = 14; // MADV_HUGEPAGE
    private const int MadviseCollapse = 25; // MADV_COLLAPSE

    /// <summary>Asks for huge pages over the tensor's storage before it is first written (best effort). Cheap; never throws.</summary>
    public static void Advise(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (AlignedRange(tensor) is { } range)
        {
            _ = madvise(range.Start, range.Length, MadviseHugePage);
        }
    }

    /// <summary>
    /// A zero-filled tensor for long-lived state read on every step (the KV cache, the adapter slot pools), advised for huge
    /// pages before the zeros are written (best effort, as <see cref="Advise"/>).
    /// </summary>
    public static Tensor Zeros(long[] shape, ScalarType dtype, Device device)
    {
        var tensor = empty(shape, dtype, device);
        Advise(tensor);
        // An in-place op hands back its own wrapper of the same storage; dispose it so that no handle outlives the caller's.
        var zeroed = tensor.zero_();
        if (!ReferenceEquals(zeroed, tensor))
        {
            zeroed.Dispose();
        }

        return tensor;
    }

    /// <summary>
    /// Puts the storage of each CPU tensor of at least 2 MiB on huge pages (advice plus a synchronous collapse) and reports
    /// how many bytes ended on them. Never throws for the system's refusal; the result carries the first reason.
    /// </summary>
    public static HugePagePlacement Back(IEnumerable<Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        long candidates = 0, placed = 0;
        var failure = OperatingSystem.IsLinux() ? null : "not Linux";
        foreach (var tensor in tensors)
        {
            if (failure is "not Linux" || AlignedRange(tensor) is not { } range)
            {
                continue;
            }

            candidates += (long)range.Length;
            if (madvise(range.Start, range.Length, MadviseHugePage) == 0 && madvise(range.Start, range.Length, MadviseCollapse) == 0)
            {
                placed += (long)range.Length;
            }
            else
            {
                failure ??= Describe(Marshal.GetLastPInvokeError());
            }
        }

        return new HugePagePlacement(candidates, placed, TransparentHugePageMode(), failure);
    }

    /// <summary>The system's setting, as /sys/kernel/mm/transparent_hugepage/enabled marks it ("always", "madvise", "never"), or "unknown".</summary>
    public static string TransparentHugePageMode()
    {
        try
        {
            var text = File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled");
            var open = text.IndexOf('[', StringComparison.Ordinal);
            var close = text.IndexOf(']', StringComparison.Ordinal);
            return open >= 0 && close > open ? text[(open + 1)..close] : "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    /// <summary>The 2 MiB-aligned part of a contiguous CPU tensor's storage, or null where there is none or it does not apply.</summary>
    private static (nint Start, nuint Length)? AlignedRange(Tensor tensor)
    {
        if (!OperatingSystem.IsLinux() || tensor.device_type != DeviceType.CPU || !tensor.is_contiguous()
            || tensor.NumberOfElements * tensor.ElementSize < PageBytes)
        {
            return null;
        }

        // The address of the first element, through a one-element view: Tensor.bytes refuses a storage beyond int.MaxValue
        // bytes (it throws), and such tensors exist (a float32 embedding of 152k tokens × 3,584 features is 2.2 GB).
        long address;
        using (var flat = tensor.view(-1))
        using (var first = flat.narrow(0, 0, 1))
        {
            unsafe
            {
                fixed (byte* pointer = first.bytes)
                {
                    address = (long)pointer;
                }
            }
        }

        var start = (address + PageBytes - 1) & ~(PageBytes - 1);
        var end = (address + (tensor.NumberOfElements * tensor.ElementSize)) & ~(PageBytes - 1);
        return end > start ? ((nint)start, (nuint)(end - start)) : null;
    }

    private static string Describe(int errno) => errno switch
    {
        22 => "the kernel refused (EINVAL: transparent huge pages disabled, or a kernel before 6.1 without MADV_COLLAPSE)",
        11 => "no huge page free right now (EAGAIN)",
        12 => "not enough memory to collapse (ENOMEM)",
        _ => $"madvise failed with errno {errno}",
    };

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(nint address, nuint length, int advice);
}

/// <summary>What <see cref="HugePages.Back"/> did: bytes that could be huge pages, bytes that are, the system's mode, the first refusal.</summary>
public sealed record HugePagePlacement(long CandidateBytes, long HugeBytes, string Mode, string? Failure);
