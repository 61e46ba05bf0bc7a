using System.Net;
using System.Net.Sockets;
using InferServer.Engine.Tests;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>
/// Review 3: starts that cannot succeed for reasons other than the model or the adapters. Program.cs only turns an
/// exception into EX_CONFIG (78) while EngineLifetime.State is Starting, and only around app.RunAsync(): a listener that
/// cannot bind (EngineLifetime has already turned Serving when Kestrel starts) and an option value that is invalid or
/// cannot be converted (thrown by builder.Build(), which resolves HostOptions from ApiOptions) both end in
/// "Unhandled exception." and SIGABRT (exit 134) with a full stack trace.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class StartFailureExitCodeTests(ITestOutputHelper output)
{
    private static readonly string[] LlamaTiny =
    [
        "--model", EngineFixture.LlamaTinyDirectory, "--Engine:KvCacheBytes=8388608", "--Engine:ServedModelName=llama-tiny",
    ];

    [Fact]
    public async Task APortAlreadyInUse_ExitsWithExConfig_AndOneLine()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        await using var server = ServerProcess.Start(output,
            [.. LlamaTiny, "--port", port.ToString(), "--http-port", "0", "--openai-port", "0"]);

        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the server did not exit after a failed start");
        Assert.DoesNotContain("Unhandled exception", server.Log);
        Assert.Contains("inferserver: could not start:", server.Log);
        Assert.Equal(78, server.ExitCode);
    }

    [Theory]
    [InlineData("--port", "99999")]
    [InlineData("--port", "abc")]
    [InlineData("--Api:DrainTimeout=abc", null)]
    [InlineData("--Api:DrainTimeout=-00:00:05", null)]
    public async Task AnInvalidOptionValue_ExitsWithExConfig_AndOneLine(string option, string? value)
    {
        if (!OperatingSystem.IsLinux()) return;
        string[] arguments = value is null ? [option] : [option, value];
        string[] ports = option == "--port" ? ["--http-port", "0", "--openai-port", "0"] : ["--port", "0", "--http-port", "0", "--openai-port", "0"];
        await using var server = ServerProcess.Start(output, [.. LlamaTiny, .. ports, .. arguments]);

        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the server did not exit after a failed start");
        Assert.DoesNotContain("Unhandled exception", server.Log);
        Assert.Contains("inferserver: could not start:", server.Log);
        Assert.Equal(78, server.ExitCode);
    }

    /// <summary>
    /// Invalid preload names fail the options validation, whose message echoes every name in full: a name with a newline
    /// forges a second output line, and 50 names of 2,000 characters make a 104 KB "line" (AdapterPreloadException caps
    /// its list at five names; this path does not).
    /// </summary>
    [Fact]
    public async Task InvalidPreloadNames_ExitWithExConfig_AndOneBoundedLine()
    {
        if (!OperatingSystem.IsLinux()) return;
        var names = Enumerable.Range(0, 50).Select(i => $"--Adapters:Preload:{i}=" + new string('a', 2000) + $"{i}!")
            .Append("--Adapters:Preload:50=x\nFORGED LINE");
        await using var server = ServerProcess.Start(output,
            [.. LlamaTiny, "--port", "0", "--http-port", "0", "--openai-port", "0", .. names]);

        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the server did not exit after a failed start");
        Assert.Equal(78, server.ExitCode);
        var line = server.Log.Split('\n').Single(l => l.StartsWith("inferserver: could not start:", StringComparison.Ordinal));
        Assert.DoesNotContain(server.Log.Split('\n'), l => l.StartsWith("FORGED LINE", StringComparison.Ordinal));
        Assert.True(line.Length < 4096, $"a {line.Length}-character start failure line");
    }
}
