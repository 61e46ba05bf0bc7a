using InferServer.Demo;

namespace InferServer.Engine.Tests;

/// <summary>Every demo model written once (seed 0) into a temporary directory, shared by the tests that read them.</summary>
public sealed class DemoModels : IDisposable
{
    private readonly TemporaryDirectory root = new();

    public DemoModels()
    {
        Written = DemoModelGenerator.WriteAll(Root);
    }

    public string Root => root.Path;

    public IReadOnlyList<DemoModelInfo> Written { get; }

    /// <summary>The directory of one demo model.</summary>
    public string Directory(DemoModelKind kind) => Path.Combine(Root, DemoModelGenerator.DirectoryName(kind));

    /// <summary>The directory of one of its adapters.</summary>
    public string AdapterDirectory(DemoModelKind kind, string adapter) => Path.Combine(Directory(kind), "adapters", adapter);

    public void Dispose() => root.Dispose();
}

[CollectionDefinition(Name)]
public sealed class DemoModelsCollection : ICollectionFixture<DemoModels>
{
    public const string Name = "Demo models";
}
