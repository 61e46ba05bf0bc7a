namespace InferServer.Kernels.Tests.Sampling;

/// <summary>
/// Tests that read the process-wide <c>torch.Tensor.TotalCount</c>: run alone, after the parallel tests, so that no
/// other test's tensors move the count.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TensorCountingCollection
{
    public const string Name = "Tensor counting";
}
