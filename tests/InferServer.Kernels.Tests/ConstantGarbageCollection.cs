namespace InferServer.Kernels.Tests;

/// <summary>
/// Tests that run a thread collecting garbage without pause: run alone, since the collector would slow every test beside
/// it and their work would thin its pressure.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConstantGarbageCollection
{
    public const string Name = "Constant garbage collection";
}
