using InferServer.Server.Demo;

namespace InferServer.Server.Tests.Demo;

/// <summary>Every demo model written once (seed 0) into a temporary directory, shared by the tests that read them.</summary>
public sealed class DemoModels : IDisposable
{
    public DemoModels()
    {
        Root = System.IO.Directory.CreateTempSubdirectory("inferserver-demo-").FullName;
        Written = DemoModelGenerator.WriteAll(Root);
    }

    public string Root { get; }

    public IReadOnlyList<DemoModelInfo> Written { get; }

    /// <summary>The directory of one demo model.</summary>
    public string Directory(DemoModelKind kind) => Path.Combine(Root, DemoModelGenerator.DirectoryName(kind));

    /// <summary>The directory of one of its adapters.</summary>
    public string AdapterDirectory(DemoModelKind kind, string adapter) => Path.Combine(Directory(kind), "adapters", adapter);

    public void Dispose() => System.IO.Directory.Delete(Root, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class DemoModelsCollection : ICollectionFixture<DemoModels>
{
    public const string Name = "Demo models";
}
