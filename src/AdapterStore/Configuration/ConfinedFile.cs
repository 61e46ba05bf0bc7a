using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace InferServer.AdapterStore.Configuration;

/// <summary>
/// Opens a file of an adapter directory for reading only when it is a regular file, no larger than a cap, whose real
/// path lies inside the allowed roots. Without this a config that links to <c>/dev/zero</c> is read for ever, one that
/// is a FIFO blocks a loader thread until a writer appears, and a link to <c>/etc/shadow</c> would be parsed.
/// </summary>
/// <remarks>
/// On Linux the check is made on the opened descriptor, not on the name, so a file swapped between check and open
/// cannot slip through: <c>open(O_NONBLOCK)</c> (a FIFO does not block), then <c>statx(AT_EMPTY_PATH)</c> for the type and
/// size, then <c>/proc/self/fd</c> for the path the kernel actually opened. .NET exposes neither the file type nor a
/// non-blocking open, hence the two libc calls. Elsewhere the same checks run on the resolved name before opening.
/// </remarks>
public static partial class ConfinedFile
{
    /// <summary>Cap for JSON configs (adapter_config.json, config.json): real ones are a few KiB.</summary>
    public const long MaxConfigBytes = 1 << 20;

    /// <summary>
    /// Opens <paramref name="path"/>, or returns null when nothing is there. Throws <see cref="ConfinedFileException"/>
    /// naming the problem (without server paths) when the file is not a regular file, is over <paramref name="maxBytes"/>
    /// or resolves outside <paramref name="roots"/>.
    /// </summary>
    public static FileStream? OpenRead(string path, IReadOnlyList<string> roots, long maxBytes)
    {
        var name = Path.GetFileName(path);
        var entry = new FileInfo(path);
        if (!entry.Exists && entry.LinkTarget is null)
        {
            return null;
        }

        var real = AdapterPaths.RealPath(path);
        CheckInside(name, real, roots);
        if (OperatingSystem.IsLinux())
        {
            return OpenChecked(name, real, roots, maxBytes);
        }

        var resolved = new FileInfo(real);
        if (!resolved.Exists || resolved.Attributes.HasFlag(FileAttributes.Device))
        {
            throw new ConfinedFileException($"{name} is not a regular file");
        }

        CheckSize(name, resolved.Length, maxBytes);
        return new FileStream(real, FileMode.Open, FileAccess.Read, FileShare.Read);
    }

    /// <summary>Reads a whole small text file through <see cref="OpenRead"/>; null when absent.</summary>
    public static string? ReadAllText(string path, IReadOnlyList<string> roots, long maxBytes = MaxConfigBytes)
    {
        using var stream = OpenRead(path, roots, maxBytes);
        if (stream is null)
        {
            return null;
        }

        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static FileStream OpenChecked(string name, string real, IReadOnlyList<string> roots, long maxBytes)
    {
        const int ReadOnlyNonBlockingCloseOnExec = 0x800 | 0x80000; // O_RDONLY | O_NONBLOCK | O_CLOEXEC (x86-64 and arm64)
        var descriptor = LibC.Open(real, ReadOnlyNonBlockingCloseOnExec);
        if (descriptor < 0)
        {
            throw new ConfinedFileException($"{name} cannot be opened (errno {Marshal.GetLastPInvokeError()})");
        }

        var handle = new SafeFileHandle(descriptor, ownsHandle: true);
        try
        {
            var (isRegular, size) = Stat(handle, name);
            if (!isRegular)
            {
                throw new ConfinedFileException($"{name} is not a regular file");
            }

            CheckSize(name, size, maxBytes);
            var opened = new FileInfo($"/proc/self/fd/{descriptor}").LinkTarget ?? real;
            CheckInside(name, opened, roots);
            return new FileStream(handle, FileAccess.Read);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static (bool IsRegular, long Size) Stat(SafeFileHandle handle, string name)
    {
        const int EmptyPath = 0x1000; // AT_EMPTY_PATH: stat the descriptor itself
        const uint TypeAndSize = 0x1 | 0x200; // STATX_TYPE | STATX_SIZE
        Span<byte> buffer = stackalloc byte[256]; // struct statx, the same layout on every architecture
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (LibC.Statx((int)handle.DangerousGetHandle(), "", EmptyPath, TypeAndSize, ref MemoryMarshal.GetReference(buffer)) != 0)
            {
                throw new ConfinedFileException($"{name} cannot be examined (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }

        var mode = BinaryPrimitives.ReadUInt16LittleEndian(buffer[28..]);
        var size = (long)BinaryPrimitives.ReadUInt64LittleEndian(buffer[40..]);
        return ((mode & 0xF000) == 0x8000, size); // S_IFMT, S_IFREG
    }

    private static void CheckInside(string name, string real, IReadOnlyList<string> roots)
    {
        foreach (var root in roots)
        {
            if (!string.IsNullOrWhiteSpace(root) && AdapterPaths.IsInside(real, AdapterPaths.RealPath(root)))
            {
                return;
            }
        }

        throw new ConfinedFileException($"{name} links outside the allowed adapter roots");
    }

    private static void CheckSize(string name, long size, long maxBytes)
    {
        if (size > maxBytes)
        {
            throw new ConfinedFileException($"{name} has {size} bytes, more than the {maxBytes} allowed");
        }
    }

    private static partial class LibC
    {
        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Statx(int directory, string path, int flags, uint mask, ref byte buffer);
    }
}
