using InferServer.Engine.Tests;
using InferServer.Engine.Tests.Tokenization;

namespace InferServer.Demo.Tests;

// xUnit reads collection definitions from the test assembly itself: these give the demo tests the fixtures the engine
// tests define (one set of demo models, one set of tokenizer directories, written once per test process).

[CollectionDefinition(Name)]
public sealed class DemoModelsCollection : ICollectionFixture<DemoModels>
{
    public const string Name = "Demo models";
}

[CollectionDefinition(Name)]
public sealed class DemoModelCollection : ICollectionFixture<DemoModelDirectories>
{
    public const string Name = "Demo tokenizer files";
}
