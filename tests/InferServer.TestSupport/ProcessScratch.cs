namespace InferServer.TestSupport;

/// <summary>
/// Scratch directories that live as long as the test process: for what several test classes share through a static
/// <see cref="Lazy{T}"/> (a model copied once, adapters written once), which no one of them may delete. They sit under
/// one root per process, <c>&lt;tmp&gt;/inferserver-tests-&lt;pid&gt;</c>, deleted when the process exits (or, if it is ended
/// first, by the next process to use this class). A directory one fixture or test owns is a
/// <see cref="TemporaryDirectory"/> instead.
/// </summary>
public static class ProcessScratch
{
    private const string Prefix = "inferserver-tests-";

    private static readonly Lazy<string> RootDirectory = new(() =>
    {
        SweepRootsOfEndedProcesses();
        var root = Path.Combine(Path.GetTempPath(), Prefix + Environment.ProcessId);
        System.IO.Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            // Best effort: a failed delete must not turn a passing run into a crash at exit.
            try
            {
                System.IO.Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
        return root;
    });

    /// <summary>
    /// Deletes the roots whose process is gone, this process's id included (an earlier process of that id): the test
    /// host may be ended before its exit handler has deleted a large root, and the next run cleans up after it.
    /// </summary>
    private static void SweepRootsOfEndedProcesses()
    {
        foreach (var directory in System.IO.Directory.EnumerateDirectories(Path.GetTempPath(), Prefix + "*"))
        {
            // TemporaryDirectory's names end in a GUID, not a process id.
            if (!int.TryParse(Path.GetFileName(directory)[Prefix.Length..], out var id)) continue;
            if (id != Environment.ProcessId && IsRunning(id)) continue;
            try
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsRunning(int id)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(id);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>This process's scratch root.</summary>
    public static string Root => RootDirectory.Value;

    /// <summary>The directory <paramref name="name"/> under this process's scratch root, created if it is not there yet.</summary>
    public static string Directory(string name)
    {
        var directory = Path.Combine(Root, name);
        System.IO.Directory.CreateDirectory(directory);
        return directory;
    }
}
