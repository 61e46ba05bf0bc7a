using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using InferServer.Engine.Tests;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>
/// The server process itself (Program.cs, not the in-process TestServer), as Kubernetes runs it: SIGTERM drains and
/// exits 0, also with streams running; a start that cannot succeed exits with one bounded message and EX_CONFIG.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class ProcessExitTests(ITestOutputHelper output)
{
    private static readonly string[] LlamaTiny =
    [
        "--model", EngineFixture.LlamaTinyDirectory, "--port", "0", "--http-port", "0", "--openai-port", "0",
        "--Engine:KvCacheBytes=8388608", "--Engine:ServedModelName=llama-tiny",
    ];

    /// <summary>
    /// Program read EngineLifetime.ExitCode after app.RunAsync(), which disposes the service provider: every graceful
    /// stop ended in an unhandled ObjectDisposedException and SIGABRT (exit 134).
    /// </summary>
    [Fact]
    public async Task SigTerm_DrainsAndExitsZero_WithoutAnUnhandledException()
    {
        if (!OperatingSystem.IsLinux()) return;
        await using var server = ServerProcess.Start(output, [.. LlamaTiny, "--Api:DrainTimeout=00:00:05"]);
        await server.OpenAiAddress(TimeSpan.FromSeconds(60));

        server.Terminate();

        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the server did not exit after SIGTERM");
        Assert.DoesNotContain("Unhandled exception", server.Log);
        Assert.Equal(0, server.ExitCode);
    }

    /// <summary>
    /// Kestrel stops before the hosted services: it waited for every running stream (up to the host's shutdown timeout)
    /// while the engine still admitted and ran them, then cut them off mid-response and the drain threw on the expired
    /// token (exit 134). The drain must come first, bounded by Api:DrainTimeout, and end every stream properly.
    /// </summary>
    private const int Streams = 200;

    [Fact]
    public async Task SigTermWhileStreaming_DrainsWithinTheDrainTimeout_EndsEveryStream_AndExitsZero()
    {
        if (!OperatingSystem.IsLinux()) return;
        // The demo Llama (GPT-2's vocabulary, 512 positions), one row per step, one thread: 200 streams of 40 tokens (about
        // 0.2 s each on a quiet machine) queue up for far longer than the host's shutdown timeout (drain + 5 s), while the
        // stream running at SIGTERM can still finish within the 3 s drain on a machine five times slower (200 tokens could
        // not at a load average of 10, so the test failed on the machine's load, not on the drain).
        await using var server = ServerProcess.StartDemoLlama(output,
            "--Api:DrainTimeout=00:00:03", "--Engine:MaxBatchRows=1", "--Engine:TorchThreads=1");
        using var http = new HttpClient { BaseAddress = await server.OpenAiAddress(TimeSpan.FromSeconds(60)), Timeout = TimeSpan.FromSeconds(60) };
        var firstEvent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var streams = Enumerable.Range(0, Streams).Select(i => ReadStreamAsync(http, i, firstEvent)).ToArray();
        await Task.WhenAny(firstEvent.Task, Task.WhenAll(streams)).WaitAsync(TimeSpan.FromSeconds(60));
        if (!firstEvent.Task.IsCompleted)
            Assert.Fail("no stream started: " + string.Join("; ", streams.Select(t => t.Result).Distinct()));

        var watch = Stopwatch.StartNew();
        server.Terminate();

        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the server did not exit after SIGTERM");
        var exitedAfter = watch.Elapsed;
        var endings = await Task.WhenAll(streams);
        output.WriteLine($"exited {exitedAfter.TotalSeconds:0.00} s after SIGTERM; " + string.Join(", ", endings.GroupBy(e => e).Select(g => $"{g.Key} {g.Count()}")));
        Assert.DoesNotContain("Unhandled exception", server.Log);
        Assert.Equal(0, server.ExitCode);
        // The drain (3 s) plus stopping the listeners; the host's shutdown timeout (8 s) must not be what ends it.
        Assert.True(exitedAfter < TimeSpan.FromSeconds(5), $"the server took {exitedAfter.TotalSeconds:0.0} s to exit with a 3 s drain");
        // Streams that could finish within the drain did; one still running at its end got an error event, then [DONE];
        // one still queued got 503 before any event. None was cut off mid-way.
        Assert.All(endings, ending => Assert.True(ending is "finished" or "error event" or "503", ending));
        Assert.Contains("finished", endings);
    }

    [Fact]
    public async Task AStartThatCannotSucceed_ExitsWithExConfig_AndOneBoundedMessage()
    {
        if (!OperatingSystem.IsLinux()) return;
        var root = BrokenAdapters.WriteRoot();
        var missing = Enumerable.Range(0, 64).Select(i => $"--Adapters:Preload:{i}=missing-{i}");
        await using var server = ServerProcess.Start(output,
            [.. LlamaTiny, "--adapters", root, "--Adapters:MaxRank=16", .. missing]);

        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the server did not exit after a failed start");
        Assert.Equal(78, server.ExitCode);
        Assert.DoesNotContain("Unhandled exception", server.Log);
        Assert.Contains("64 preloaded adapter(s) could not be loaded", server.Log);
        Assert.Contains("and 59 more", server.Log);
        // 64 failures, one line of reason each at most: no stack trace per adapter, no repeat of the whole list.
        Assert.True(server.Log.Length < 16 * 1024, $"{server.Log.Length} characters of output for one failed start");
    }

    /// <summary>How one streamed completion ended: "finished", "error event", "503" or what went wrong.</summary>
    private static async Task<string> ReadStreamAsync(HttpClient http, int index, TaskCompletionSource firstEvent)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
            {
                Content = new StringContent(
                    $$"""{"model":"demo","prompt":"Once upon a time {{index}}","max_tokens":40,"stream":true,"ignore_eos":true}""",
                    Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
            };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            if (!response.IsSuccessStatusCode)
                return response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable
                    ? "503"
                    : $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}";
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var ending = "cut off without [DONE]";
            while (await reader.ReadLineAsync() is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                firstEvent.TrySetResult();
                if (line == "data: [DONE]") return ending == "cut off without [DONE]" ? "[DONE] without an ending" : ending;
                if (line.Contains("\"error\"", StringComparison.Ordinal)) ending = "error event";
                else if (line.Contains("\"finish_reason\":\"", StringComparison.Ordinal)) ending = "finished";
            }
            return ending;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            return $"cut off: {e.GetType().Name} {e.Message}";
        }
    }
}
