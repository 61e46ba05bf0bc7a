using System.Text;
using Grpc.Core;
using Grpc.Health.V1;
using InferServer.Api.V1;
using InferServer.Engine;
using InferServer.Engine.Tests;
using InferServer.Server.Tests.Hosting;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>
/// The traffic real clients send, against the real server (Kestrel on loopback, real gRPC client, llama-tiny with its
/// PEFT adapters): a stream cancelled after one frame, a deadline that expires mid-generation. Each must end that call
/// only: the next requests on the same adapter and on the base get the same answers as before, and health stays SERVING.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class RealClientTrafficTests(ITestOutputHelper output)
{
    private Task<TestServer> StartAsync() => TestServer.StartAsync(output, runtime: null, new Dictionary<string, string?>
    {
        ["Engine:ModelPath"] = EngineFixture.LlamaTinyDirectory,
        ["Engine:KvCacheBytes"] = (8L * 1024 * 1024).ToString(),
        ["Adapters:AdapterRoots:0"] = Path.Combine(ReferenceFixtures.Root, "llama-tiny", "adapters"),
        ["Adapters:MaxRank"] = "16",
    });

    /// <summary>More new tokens than llama-tiny's 128-token context holds: generation runs until the context is full.</summary>
    private const int FullLength = 500;

    private static GenerateRequest Greedy(string adapter, int tokens) => new()
    {
        Adapter = adapter,
        TokenIds = new TokenIds { Ids = { 5, 17, 42, 99 } },
        Params = new GenerationParams { MaxNewTokens = tokens, IgnoreEos = true, Sampling = new SamplingParams { Temperature = 0 } },
    };

    [Theory]
    [InlineData("qv-r8")]
    [InlineData("")]
    public async Task AStreamCancelledAfterOneFrame_AfterAUnaryCallOnTheSameAdapter_LeavesTheServerServing(string adapter)
    {
        await using var server = await StartAsync();
        var before = await server.Inference.GenerateAsync(Greedy(adapter, 8));

        using (var cancellation = new CancellationTokenSource())
        {
            using var call = server.Inference.GenerateStream(Greedy(adapter, 1000), cancellationToken: cancellation.Token);
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            cancellation.Cancel();
        }

        await AssertStillServingAsync(server, adapter, before);
    }

    [Theory]
    [InlineData("qv-r8")]
    [InlineData("")]
    public async Task ADeadlineExpiringMidGeneration_EndsThatCallOnly(string adapter)
    {
        await using var server = await StartAsync();
        var before = await server.Inference.GenerateAsync(Greedy(adapter, 8));
        // Calibrate on this machine (the faster of two runs): a deadline at a third of a full-length generation expires in its middle.
        var full = TimeSpan.MaxValue;
        for (var run = 0; run < 2; run++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            await server.Inference.GenerateAsync(Greedy(adapter, FullLength));
            full = TimeSpan.FromTicks(Math.Min(full.Ticks, clock.Elapsed.Ticks));
        }

        using var call = server.Inference.GenerateStream(Greedy(adapter, FullLength), deadline: DateTime.UtcNow + full / 3);
        var frames = 0;
        var expired = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
                frames++;
        });

        // grpc-dotnet's server resets a stream whose deadline passed; when the reset reaches the client before its own
        // timer fires, the client reports the reset (UNAVAILABLE) rather than DEADLINE_EXCEEDED (grpc-dotnet#344).
        Assert.True(expired.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Unavailable, expired.Status.ToString());
        Assert.True(frames > 0, "the deadline should expire after generation started");
        await AssertStillServingAsync(server, adapter, before);
    }

    [Fact]
    public async Task ManyCancelledStreams_OnSeveralAdapters_LeaveNoPinsOrBlocksBehind()
    {
        await using var server = await StartAsync();
        var adapters = new[] { "qv-r8", "all-r16", "qv-r4-layer1", "" };
        var before = new Dictionary<string, GenerateResponse>();
        foreach (var adapter in adapters)
            before[adapter] = await server.Inference.GenerateAsync(Greedy(adapter, 8));

        await Task.WhenAll(Enumerable.Range(0, 24).Select(async i =>
        {
            using var cancellation = new CancellationTokenSource();
            using var call = server.Inference.GenerateStream(Greedy(adapters[i % adapters.Length], 1000), cancellationToken: cancellation.Token);
            for (var frames = 0; frames < 1 + i % 3; frames++)
                Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            cancellation.Cancel();
        }));

        var engine = (IInferenceEngine)server.Services.GetService(typeof(IInferenceEngine))!;
        await Poll.UntilAsync(() => Task.FromResult(engine.Status is { RunningRequests: 0, WaitingRequests: 0, KvCacheUsage: 0 }));
        foreach (var adapter in adapters)
            await AssertStillServingAsync(server, adapter, before[adapter]);
    }

    [Fact]
    public async Task AnAdapterWithManyProblems_IsABoundedFailedPrecondition_WithoutServerPaths()
    {
        var root = BrokenAdapters.WriteRoot();
        await using var server = await TestServer.StartAsync(output, runtime: null, new Dictionary<string, string?>
        {
            ["Engine:ModelPath"] = EngineFixture.LlamaTinyDirectory,
            ["Engine:KvCacheBytes"] = (8L * 1024 * 1024).ToString(),
            ["Adapters:AdapterRoots:0"] = root,
            ["Adapters:MaxRank"] = "16",
        });

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(Greedy(BrokenAdapters.ManyProblems, 4)));

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        // Python grpcio refuses response metadata over 8 KB: the whole trailer must stay well below it.
        var trailerBytes = refused.Trailers.Sum(entry => entry.Key.Length + (entry.IsBinary ? entry.ValueBytes.Length : Encoding.UTF8.GetByteCount(entry.Value)));
        Assert.True(trailerBytes + Encoding.UTF8.GetByteCount(refused.Status.Detail) < 4096, $"status and trailers take {trailerBytes} bytes");
        var problems = refused.GetRpcStatus()!.GetDetail<Google.Rpc.PreconditionFailure>()!.Violations;
        Assert.Equal(Server.Api.ErrorBounds.MaxListed, problems.Count);
        Assert.Contains("more", problems[^1].Description);
        Assert.DoesNotContain(root, refused.Status.Detail);
        Assert.DoesNotContain(root, string.Concat(refused.Trailers.Where(entry => entry.IsBinary).Select(entry => Encoding.UTF8.GetString(entry.ValueBytes))));
        await server.Inference.GenerateAsync(Greedy("", 4)); // and the server goes on
    }

    private static async Task AssertStillServingAsync(TestServer server, string adapter, GenerateResponse before)
    {
        var again = await server.Inference.GenerateAsync(Greedy(adapter, 8), deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.Equal(before.TokenIds, again.TokenIds);
        var other = adapter.Length == 0 ? "qv-r8" : "";
        await server.Inference.GenerateAsync(Greedy(other, 4), deadline: DateTime.UtcNow.AddSeconds(30));
        // SERVING, allowing the health cache its first publish after start on a loaded machine.
        var health = new Health.HealthClient(server.Channel);
        await Poll.UntilAsync(async () =>
            (await health.CheckAsync(new HealthCheckRequest())).Status == HealthCheckResponse.Types.ServingStatus.Serving, TimeSpan.FromSeconds(10));
    }
}
