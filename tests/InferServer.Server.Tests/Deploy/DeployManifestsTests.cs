using InferServer.Server.Tests.Api.OpenAi;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Deploy;

/// <summary>
/// Every manifest in deploy/ validates against Kubernetes and Gateway API schemas and the vendored Inference Extension
/// CRD schemas: runs deploy/validate (npm ci when needed, then node validate.mjs) and asserts exit 0, showing its output.
/// </summary>
public sealed class DeployManifestsTests(ITestOutputHelper output)
{
    [NodeFact]
    public async Task EveryDeployManifest_ValidatesAgainstItsSchema()
    {
        var directory = ValidatorDirectory();
        if (!Directory.Exists(Path.Combine(directory, "node_modules", "ajv")))
            Assert.Equal(0, await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], directory));

        Assert.Equal(0, await RunAsync("node", ["validate.mjs"], directory));
    }

    private Task<int> RunAsync(string program, string[] arguments, string directory) =>
        ProcessRunner.RunAsync(program, arguments, directory, output.WriteLine, TimeSpan.FromMinutes(5));

    private static string ValidatorDirectory() => RepositoryFiles.Path("deploy", "validate");
}
