namespace InferServer.Server.Tests;

/// <summary>
/// Tests that start engines or servers share the machine's two cores and count live tensors: they run one at a time.
/// (xUnit reads collection definitions from the test assembly itself, so each test project declares its own.)
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EngineCollection
{
    public const string Name = "Engine";
}
