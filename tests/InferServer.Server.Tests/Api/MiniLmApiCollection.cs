using InferServer.Demo.Tests.Import;

namespace InferServer.Server.Tests.Api;

/// <summary>The API tests on the imported all-MiniLM-L6-v2 share one import and run one at a time (two cores).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MiniLmApiCollection : ICollectionFixture<MiniLmFixture>
{
    public const string Name = "MiniLM API";
}
