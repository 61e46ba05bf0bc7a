using Xunit.Abstractions;

namespace InferServer.Server.Tests.Api.OpenAi;

/// <summary>
/// The official openai Node client's tool-calling round trip (tests/openai-client/tools.test.js) against the demo Llama
/// and its adapter: a forced call, the tool's result as a `tool` message, the final answer, unary and streamed.
/// </summary>
[Collection(StructuredServerCollection.Name)]
public sealed class OpenAiNodeClientToolTests(StructuredServerFixture fixture, ITestOutputHelper output)
{
    [NodeFact]
    public async Task TheOfficialOpenAiNodeClient_CompletesAToolRoundTrip_OnBaseAndAdapter()
    {
        var directory = RepositoryFiles.Path("tests", "openai-client");
        if (!Directory.Exists(Path.Combine(directory, "node_modules", "openai")))
            Assert.Equal(0, await ProcessRunner.RunAsync("npm", ["ci", "--no-audit", "--no-fund"], directory, output.WriteLine, TimeSpan.FromMinutes(5), new Dictionary<string, string>()));

        var exitCode = await ProcessRunner.RunAsync("node", ["--test", "tools.test.js"], directory, output.WriteLine, TimeSpan.FromMinutes(5), new Dictionary<string, string>
        {
            ["INFERSERVER_TOOLS_BASE_URL"] = new Uri(fixture.Server.OpenAiAddress, "v1").ToString(),
            ["INFERSERVER_TOOLS_MODEL"] = OpenAiTestServer.ServedName,
            ["INFERSERVER_TOOLS_ADAPTER"] = StructuredServerFixture.Adapter,
        });

        Assert.Equal(0, exitCode);
    }
}
