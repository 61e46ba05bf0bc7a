namespace InferServer.TestSupport;

/// <summary>The checked-out repository the tests run from: the first directory above the test output holding InferServer.sln.</summary>
public static class RepositoryFiles
{
    private static readonly Lazy<string> RootDirectory = new(() =>
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (System.IO.File.Exists(System.IO.Path.Combine(directory.FullName, "InferServer.sln")))
                return directory.FullName;
        }
        throw new DirectoryNotFoundException("InferServer.sln not found above " + AppContext.BaseDirectory);
    });

    /// <summary>The repository root.</summary>
    public static string Root => RootDirectory.Value;

    /// <summary>A path under the repository root, given as its parts.</summary>
    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);
}
