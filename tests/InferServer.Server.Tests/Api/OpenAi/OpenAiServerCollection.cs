namespace InferServer.Server.Tests.Api.OpenAi;

/// <summary>
/// The OpenAI API tests share one server (starting one loads the model) and run one class at a time: each engine
/// runs its own CPU thread pool, and the metrics tests read the server's load.
/// </summary>
[CollectionDefinition(Name)]
public sealed class OpenAiServerCollection : ICollectionFixture<OpenAiServerFixture>
{
    public const string Name = "OpenAi server";
}

/// <summary>The shared server of <see cref="OpenAiServerCollection"/>, with vLLM-compatible metric names on.</summary>
public sealed class OpenAiServerFixture : IAsyncLifetime
{
    private OpenAiTestServer? server;

    public OpenAiTestServer Server => server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() =>
        // As deploy/inferserver.yaml runs it: the endpoint picker scrapes /metrics on the OpenAI port.
        server = await OpenAiTestServer.StartAsync(new Dictionary<string, string?> { ["Metrics:VllmCompatibleNames"] = "true", ["Metrics:ServeOnOpenAiPort"] = "true" });

    public async Task DisposeAsync()
    {
        if (server is not null) await server.DisposeAsync();
    }
}
