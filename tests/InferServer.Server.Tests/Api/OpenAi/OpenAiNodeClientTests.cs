using Xunit.Abstractions;

namespace InferServer.Server.Tests.Api.OpenAi;

/// <summary>A fact that needs Node.js (node and npm on PATH); skipped, saying so, where it is absent.</summary>
public sealed class NodeFactAttribute : FactAttribute
{
    public NodeFactAttribute()
    {
        if (!OnPath("node") || !OnPath("npm")) Skip = "Node.js (node and npm) is not on PATH; tests/openai-client needs it";
    }

    private static bool OnPath(string program) => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Any(directory => File.Exists(Path.Combine(directory, program)));
}

/// <summary>
/// The official openai Node client (tests/openai-client, version pinned by its lockfile) against the real server:
/// the harness starts the server, installs the client with npm ci, runs node --test with the base URL in
/// INFERSERVER_OPENAI_BASE_URL, shows its output and asserts exit code 0.
/// </summary>
[Collection(OpenAiServerCollection.Name)]
public sealed class OpenAiNodeClientTests(OpenAiServerFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    [NodeFact]
    public async Task TheOfficialOpenAiNodeClient_PassesItsTestsAgainstTheServer()
    {
        var directory = ClientDirectory();
        if (!Directory.Exists(Path.Combine(directory, "node_modules", "openai")))
            Assert.Equal(0, await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], directory, new Dictionary<string, string>()));

        var exitCode = await RunAsync("node", ["--test"], directory, new Dictionary<string, string>
        {
            ["INFERSERVER_OPENAI_BASE_URL"] = new Uri(fixture.Server.OpenAiAddress, "v1").ToString(),
            ["INFERSERVER_MODEL"] = OpenAiTestServer.ServedName,
            ["INFERSERVER_ADAPTER"] = "qv-r8",
        });

        Assert.Equal(0, exitCode);
    }

    private Task<int> RunAsync(string program, string[] arguments, string directory, Dictionary<string, string> environment) =>
        ProcessRunner.RunAsync(program, arguments, directory, output.WriteLine, Limit, environment);

    private static string ClientDirectory() => RepositoryFiles.Path("tests", "openai-client");
}
