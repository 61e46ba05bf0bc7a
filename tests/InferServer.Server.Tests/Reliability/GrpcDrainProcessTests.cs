using System.Diagnostics;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using InferServer.Api.V1;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>
/// Review 3: the drain on SIGTERM as a gRPC client sees it (ProcessExitTests covers the OpenAI streams): every
/// GenerateStream ends with its final frame or with UNAVAILABLE, a call made during the drain gets UNAVAILABLE at once,
/// health says NOT_SERVING during the drain, and the process exits 0 within the drain plus a little.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class GrpcDrainProcessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SigTermWhileGrpcStreaming_EndsEveryStreamWithAFinalFrameOrUnavailable()
    {
        if (!OperatingSystem.IsLinux()) return;
        await using var server = ServerProcess.StartDemoLlama(output,
            "--Api:DrainTimeout=00:00:03", "--Engine:MaxBatchRows=1", "--Engine:TorchThreads=1");
        var address = await server.GrpcAddress(TimeSpan.FromSeconds(60));
        using var channel = GrpcChannel.ForAddress(address);
        var client = new Inference.InferenceClient(channel);
        var firstFrame = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var streams = Enumerable.Range(0, 40).Select(i => ReadStreamAsync(client, i, firstFrame)).ToArray();
        await firstFrame.Task.WaitAsync(TimeSpan.FromSeconds(60));

        var watch = Stopwatch.StartNew();
        server.Terminate();
        await Task.Delay(1000);
        var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());
        var late = Stopwatch.StartNew();
        var lateEnding = await ReadStreamAsync(client, 1000, new TaskCompletionSource());
        var lateTook = late.Elapsed;

        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the server did not exit after SIGTERM");
        var exitedAfter = watch.Elapsed;
        var endings = await Task.WhenAll(streams);
        output.WriteLine($"exited {exitedAfter.TotalSeconds:0.00} s after SIGTERM; health during the drain {health.Status}; "
            + $"a call during the drain: {lateEnding} after {lateTook.TotalMilliseconds:0} ms; "
            + string.Join(", ", endings.GroupBy(e => e).Select(g => $"{g.Key} {g.Count()}")));
        Assert.DoesNotContain("Unhandled exception", server.Log);
        Assert.Equal(0, server.ExitCode);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, health.Status);
        Assert.Equal("Unavailable", lateEnding);
        Assert.True(lateTook < TimeSpan.FromSeconds(1), $"a call during the drain took {lateTook.TotalMilliseconds:0} ms to be refused");
        Assert.True(exitedAfter < TimeSpan.FromSeconds(5), $"the server took {exitedAfter.TotalSeconds:0.0} s to exit with a 3 s drain");
        Assert.All(endings, ending => Assert.True(ending is "final" or "Unavailable", ending));
        Assert.Contains("final", endings);
    }

    /// <summary>
    /// A gRPC client that reads slowly (a mobile or cross-region link: HTTP/2 flow control keeps the rest of the response
    /// in the server's memory) while the server drains: the engine has produced every token, so the drain ends at once and
    /// the process exits within about 2 s, far inside a 10 s Api:DrainTimeout, and the response still waiting for the
    /// client's window is lost: the stream ends without its final frame or status (reproduced by hand with
    /// `curl --http2-prior-knowledge --limit-rate 15K`: 2 of 4 streams cut off, one mid-message; all 4 whole without SIGTERM).
    /// </summary>
    [Fact]
    public async Task SigTermWithASlowGrpcReader_StillDeliversTheWholeStream()
    {
        if (!OperatingSystem.IsLinux()) return;
        await using var server = ServerProcess.StartDemoLlama(output, "--Api:DrainTimeout=00:00:10");
        var address = await server.GrpcAddress(TimeSpan.FromSeconds(60));
        // A large stream window, as curl and browsers' fetch use: the server writes the whole response into the socket.
        using var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { InitialHttp2StreamWindowSize = 16 * 1024 * 1024 },
        });
        var client = new Inference.InferenceClient(channel);
        var calls = Enumerable.Range(0, 4).Select(i => client.GenerateStream(new GenerateRequest
        {
            Text = $"Once {i}",
            Params = new GenerationParams
            {
                MaxNewTokens = 480,
                IgnoreEos = true,
                Logprobs = true,
                TopLogprobs = 20,
                Sampling = new SamplingParams { Temperature = 0 },
            },
        })).ToArray();
        foreach (var call in calls)
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None), "no first frame");
        await Task.Delay(1500); // the engine finishes every token; the responses wait for the clients' windows

        var watch = Stopwatch.StartNew();
        server.Terminate();
        var endings = new List<string>();
        foreach (var call in calls)
        {
            var ending = "ended without a final frame";
            try
            {
                while (await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                    if (call.ResponseStream.Current.FrameCase == GenerateStreamResponse.FrameOneofCase.Final)
                        ending = "final";
                }
            }
            catch (RpcException e)
            {
                ending = e.StatusCode == StatusCode.Unavailable ? "Unavailable" : $"{e.StatusCode}: {e.Status.Detail}";
            }
            endings.Add(ending);
            call.Dispose();
        }
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the server did not exit after SIGTERM");
        output.WriteLine($"exited {watch.Elapsed.TotalSeconds:0.00} s after SIGTERM; " + string.Join(", ", endings));
        Assert.Equal(0, server.ExitCode);
        Assert.All(endings, ending => Assert.True(ending is "final" or "Unavailable", ending));
    }

    /// <summary>
    /// The same with a client that really reads slowly from its socket (curl --limit-rate, as on a slow link): the server
    /// exits about 2 s after SIGTERM although Api:DrainTimeout is 10 s, and streams lose their tail, some mid-message
    /// (without SIGTERM the same four clients receive all 501 frames). Needs curl with HTTP/2.
    /// </summary>
    [Fact(Skip = "Open defect (review 3, F1, docs/architecture.md 'Known limits'): on shutdown Kestrel closes an HTTP/2 "
        + "connection while data of a stream whose handler has finished still waits for the client's flow-control window.")]
    public async Task SigTermWithCurlReadingSlowly_StillDeliversEveryGrpcStreamWhole()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/bin/curl")) return;
        await using var server = ServerProcess.StartDemoLlama(output, "--Api:DrainTimeout=00:00:10");
        var address = (await server.GrpcAddress(TimeSpan.FromSeconds(60))).ToString().TrimEnd('/');
        var scratch = ProcessScratch.Directory("grpc-slow-curl-" + Guid.NewGuid().ToString("N"));
        var request = new GenerateRequest
        {
            Text = "Once",
            Params = new GenerationParams
            {
                MaxNewTokens = 480,
                IgnoreEos = true,
                Logprobs = true,
                TopLogprobs = 20,
                Sampling = new SamplingParams { Temperature = 0 },
            },
        };
        var body = Google.Protobuf.MessageExtensions.ToByteArray(request);
        var framed = new byte[5 + body.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)body.Length);
        body.CopyTo(framed, 5);
        var requestFile = Path.Combine(scratch, "request.bin");
        await File.WriteAllBytesAsync(requestFile, framed);
        var curls = Enumerable.Range(0, 4).Select(i =>
        {
            var start = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[]
            {
                "-s", "--http2-prior-knowledge", "--limit-rate", "15K", "-m", "60", "-H", "content-type: application/grpc",
                "-H", "te: trailers", "--data-binary", "@" + requestFile, "-o", Path.Combine(scratch, $"response{i}.bin"),
                address + "/inferserver.v1.Inference/GenerateStream",
            })
                start.ArgumentList.Add(argument);
            return Process.Start(start)!;
        }).ToArray();
        await Task.Delay(1500);

        var watch = Stopwatch.StartNew();
        server.Terminate();
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the server did not exit after SIGTERM");
        var exitedAfter = watch.Elapsed;
        foreach (var curl in curls)
            await curl.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(70)).Token);
        var endings = Enumerable.Range(0, 4).Select(i => DescribeGrpcResponse(File.ReadAllBytes(Path.Combine(scratch, $"response{i}.bin")))).ToArray();
        output.WriteLine($"exited {exitedAfter.TotalSeconds:0.00} s after SIGTERM; " + string.Join(", ", endings));
        Assert.Equal(0, server.ExitCode);
        Assert.All(endings, ending => Assert.True(ending == "final", ending));
    }

    /// <summary>"final" when the gRPC body is whole and ends with a final frame; otherwise what it is.</summary>
    private static string DescribeGrpcResponse(byte[] data)
    {
        var (offset, frames) = (0, 0);
        GenerateStreamResponse? last = null;
        while (offset < data.Length)
        {
            if (offset + 5 > data.Length) return $"cut off mid-header after {frames} frames";
            var length = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset + 1));
            if (offset + 5 + length > data.Length) return $"cut off mid-message after {frames} frames";
            last = GenerateStreamResponse.Parser.ParseFrom(data, offset + 5, length);
            offset += 5 + length;
            frames++;
        }
        return last?.FrameCase == GenerateStreamResponse.FrameOneofCase.Final ? "final" : $"no final frame after {frames} frames";
    }

    /// <summary>How one GenerateStream ended: "final", a status code name, or what else happened.</summary>
    private static async Task<string> ReadStreamAsync(Inference.InferenceClient client, int index, TaskCompletionSource firstFrame)
    {
        try
        {
            var request = new GenerateRequest
            {
                Text = $"Once upon a time {index}",
                Params = new GenerationParams { MaxNewTokens = 200, IgnoreEos = true, Sampling = new SamplingParams { Temperature = 0 } },
            };
            using var call = client.GenerateStream(request);
            var ending = "ended without a final frame";
            await foreach (var frame in call.ResponseStream.ReadAllAsync())
            {
                firstFrame.TrySetResult();
                if (frame.FrameCase == GenerateStreamResponse.FrameOneofCase.Final)
                    ending = "final";
            }
            return ending;
        }
        catch (RpcException e)
        {
            return e.StatusCode == StatusCode.Unavailable ? "Unavailable" : $"{e.StatusCode}: {e.Status.Detail}";
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }

}
