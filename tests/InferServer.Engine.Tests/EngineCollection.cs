namespace InferServer.Engine.Tests;

/// <summary>Engine tests share the machine's two cores and count live tensors: they run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EngineCollection
{
    public const string Name = "Engine";
}
