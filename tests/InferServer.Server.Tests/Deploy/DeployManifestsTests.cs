using System.Diagnostics;
using InferServer.Server.Tests.OpenAi;
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

    private async Task<int> RunAsync(string program, string[] arguments, string directory)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} ran past 5 minutes");
        }
        finally
        {
            output.WriteLine($"$ {program} {string.Join(' ', arguments)}");
            output.WriteLine(await stdout);
            output.WriteLine(await stderr);
        }
        return process.ExitCode;
    }

    private static string ValidatorDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "deploy", "validate");
            if (File.Exists(Path.Combine(candidate, "package.json"))) return candidate;
        }
        throw new DirectoryNotFoundException("deploy/validate not found above " + AppContext.BaseDirectory);
    }
}
