namespace InferServer.Kernels.Tests.Lora;

/// <summary>
/// Tests that count process-wide live tensors: xunit runs this collection after the parallel ones, with nothing beside it,
/// so other tests' tensors cannot move the count.
/// </summary>
[CollectionDefinition(nameof(LoraTensorLeakCollection), DisableParallelization = true)]
public sealed class LoraTensorLeakCollection;
