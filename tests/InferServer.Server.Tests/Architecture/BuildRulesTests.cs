using System.Diagnostics;
using System.Text.Json;

namespace InferServer.Server.Tests.Architecture;

/// <summary>
/// Directory.Build.props turns rules on by where a project sits in the repository: the code style and the documentation
/// file for src/ and samples/, the banned TorchSharp operators for src/. Where the clone itself sits must not matter: a
/// clone under ~/src/ (a common layout) once turned every rule on for tests/, loadtest/ and benchmarks/ too, and the build
/// failed there (RS0030 in the reference tests, CS1573 in the load generator).
/// </summary>
public sealed class BuildRulesTests
{
    [Theory]
    [InlineData("src/Probe", true, true)]
    [InlineData("samples/Probe", true, false)]
    [InlineData("tests/Probe", false, false)]
    [InlineData("loadtest/Probe", false, false)]
    [InlineData("benchmarks/Probe", false, false)]
    public async Task RulesFollowTheProjectsFolderInTheRepository_NotTheClonesPath(string folder, bool codeStyle, bool bannedApis)
    {
        using var scratch = new TemporaryDirectory();
        // A clone whose own path names both rule folders.
        var clone = Path.Combine(scratch.Path, "src", "samples", "inferserver");
        Directory.CreateDirectory(Path.Combine(clone, folder));
        File.Copy(RepositoryFiles.Path("Directory.Build.props"), Path.Combine(clone, "Directory.Build.props"));
        var project = Path.Combine(clone, folder, "Probe.csproj");
        File.WriteAllText(project, "<Project Sdk=\"Microsoft.NET.Sdk\" />");

        using var evaluation = await EvaluateAsync(project);

        var properties = evaluation.RootElement.GetProperty("Properties");
        Assert.Equal(codeStyle, properties.GetProperty("EnforceCodeStyleInBuild").GetString() == "true");
        Assert.Equal(codeStyle, properties.GetProperty("GenerateDocumentationFile").GetString() == "true");
        var additionalFiles = evaluation.RootElement.GetProperty("Items").TryGetProperty("AdditionalFiles", out var files)
            ? files.EnumerateArray().Select(file => file.GetProperty("Filename").GetString()).ToList()
            : [];
        Assert.Equal(bannedApis, additionalFiles.Contains("BannedSymbols"));
    }

    private static async Task<JsonDocument> EvaluateAsync(string project)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(project)!,
        };
        foreach (var argument in new[] { "msbuild", project, "-getProperty:EnforceCodeStyleInBuild", "-getProperty:GenerateDocumentationFile", "-getItem:AdditionalFiles" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"dotnet msbuild failed: {await output}{await error}");
        return JsonDocument.Parse(await output);
    }
}
