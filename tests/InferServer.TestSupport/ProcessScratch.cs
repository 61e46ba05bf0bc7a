namespace InferServer.TestSupport;

/// <summary>
/// Scratch directories that live as long as the test process: for what several test classes share through a static
/// <see cref="Lazy{T}"/> (a model copied once, adapters written once), which no one of them may delete. They sit under
/// one root per process, <c>&lt;tmp&gt;/inferserver-tests-&lt;pid&gt;</c>, deleted when the process exits. A directory
/// one fixture or test owns is a <see cref="TemporaryDirectory"/> instead.
/// </summary>
public static class ProcessScratch
{
    private static readonly Lazy<string> RootDirectory = new(() =>
    {
        var root = Path.Combine(Path.GetTempPath(), "inferserver-tests-" + Environment.ProcessId);
        // Left by an earlier process with the same id that was killed before its exit handler ran.
        if (System.IO.Directory.Exists(root)) System.IO.Directory.Delete(root, recursive: true);
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
