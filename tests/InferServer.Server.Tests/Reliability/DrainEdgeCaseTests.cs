using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using InferServer.Engine.Tests;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>
/// Review 3: a client still uploading its request body when SIGTERM comes (a slow link, a stuck proxy). The request never
/// reached the engine, so the drain ends at once, but Kestrel's stop waits for the request until the host's shutdown
/// timeout (Api:DrainTimeout + 5 s) runs out: the exit takes 8 s with a 3 s drain, and aborting the request logs
/// "Unhandled exception in OpenAI v1/completions; answered 500" with a stack trace (OpenAiApi.HandleAsync).
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class DrainEdgeCaseTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SigTermWhileARequestBodyIsStillUploading_ExitsWithinTheDrain_WithoutAnUnhandledException()
    {
        if (!OperatingSystem.IsLinux()) return;
        await using var server = ServerProcess.Start(output,
            "--model", EngineFixture.LlamaTinyDirectory, "--port", "0", "--http-port", "0", "--openai-port", "0",
            "--Engine:KvCacheBytes=8388608", "--Engine:ServedModelName=llama-tiny", "--Api:DrainTimeout=00:00:03");
        var openAi = await server.OpenAiAddress(TimeSpan.FromSeconds(60));
        using var client = new TcpClient();
        await client.ConnectAsync(openAi.Host, openAi.Port);
        var partial = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            + "{\"model\":\"llama-tiny\",";
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(partial));
        await Task.Delay(1000);

        var watch = Stopwatch.StartNew();
        server.Terminate();
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the server did not exit after SIGTERM");
        var exitedAfter = watch.Elapsed;
        output.WriteLine($"exited {exitedAfter.TotalSeconds:0.00} s after SIGTERM");

        Assert.Equal(0, server.ExitCode);
        Assert.DoesNotContain("Unhandled exception", server.Log);
        Assert.True(exitedAfter < TimeSpan.FromSeconds(5), $"the server took {exitedAfter.TotalSeconds:0.0} s to exit with a 3 s drain");
    }
}
