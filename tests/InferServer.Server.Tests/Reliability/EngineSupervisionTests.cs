using Grpc.Core;
using Grpc.Health.V1;
using InferServer.Engine;
using InferServer.Server.Hosting;
using InferServer.Server.Tests.Api;
using InferServer.Engine.Tests;
using InferServer.Server.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>
/// An exception on the engine thread fails only the requests it concerns and the loop goes on; when the loop truly
/// cannot go on, every request fails at once with UNAVAILABLE, health turns NOT_SERVING and the host exits non-zero.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class EngineSupervisionTests(ITestOutputHelper output)
{
    private static readonly int[] Prompt = [5, 17, 42, 99];
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AFailingSlotWrite_FailsThatRequestOnly_AndTheEngineGoesOn()
    {
        await using var engine = StoreBackedEngine.Start(new EngineOptions { KvCacheBytes = 8L << 20 });
        var (expected, _) = await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 6, "all-r16"));
        engine.Adapters.FailingSlotWrites["qv-r8"] = true;

        var failing = EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 6, "qv-r8"));
        var healthy = EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 6, "all-r16"));

        var error = await Assert.ThrowsAsync<EngineFailedException>(() => failing.WaitAsync(Timeout));
        Assert.Contains("injected", error.InnerException!.Message);
        Assert.Equal(EngineFixture.TokenIds(expected), EngineFixture.TokenIds((await healthy.WaitAsync(Timeout)).Deltas));
        engine.Adapters.FailingSlotWrites.Clear();
        await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 6, "qv-r8")).WaitAsync(Timeout);
        Assert.Null(engine.Engine.Fault);
        await Poll.UntilAsync(() => engine.Store.RequestPins == 0 && engine.Engine.Status.Adapters.DevicePinned == 0);
    }

    [Fact]
    public async Task AMergeThatRunsOutOfMemory_FallsBackToTheSlots_WithTheSameAnswer()
    {
        await using var engine = StoreBackedEngine.Start(new EngineOptions { KvCacheBytes = 8L << 20 });
        var (expected, _) = await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 6, "qv-r8"));
        engine.Adapters.FailMergingAdapters = true;

        var (again, _) = await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 6, "qv-r8")).WaitAsync(Timeout);

        Assert.Equal(EngineFixture.TokenIds(expected), EngineFixture.TokenIds(again));
        Assert.Null(engine.Engine.Fault);
    }

    [Fact]
    public async Task ALoopThatFailsTurnAfterTurn_FaultsTheEngine_AndEveryRequestEndsUnavailable()
    {
        await using var engine = StoreBackedEngine.Start(new EngineOptions { KvCacheBytes = 8L << 20 });
        await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 2));
        engine.Adapters.FailEveryMerge = true; // every step's preparation throws, outside any per-request guard

        // Requests keep arriving and every step fails: after a few failures in a row with no good step between them
        // the engine gives up, rather than failing every request for ever while health says SERVING.
        var failed = 0;
        while (engine.Engine.Fault is null && failed < 100)
        {
            var error = await Assert.ThrowsAnyAsync<Exception>(() => EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 4)).WaitAsync(Timeout));
            // A request that arrives just as the engine gives up is refused as stopped; only the failed steps count.
            Assert.True(error is EngineFailedException or EngineStoppedException, error.ToString());
            failed += error is EngineFailedException ? 1 : 0;
        }

        Assert.NotNull(engine.Engine.Fault);
        Assert.InRange(failed, 1, 5);
        await Assert.ThrowsAsync<EngineStoppedException>(() => EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 2)));
        Assert.Equal(0, engine.Engine.Status.RunningRequests);
        Assert.Equal(0, engine.Engine.Status.WaitingRequests);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TurnsThatFailInARow_FaultTheEngine_InEitherMode(bool classifier)
    {
        await using var engine = StoreBackedEngine.Start(new EngineOptions { KvCacheBytes = 8L << 20 }, classifier: classifier);
        Task Serve() => classifier
            ? engine.Engine.ClassifyAsync(new ClassificationRequest(null, ["warm"]))
            : EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Prompt, 2));
        await Serve().WaitAsync(Timeout);

        // Every turn now fails before it plans anything: the one supervisor counts these turns for both modes alike.
        engine.Adapters.FailEveryFreeRetired = true;

        await Poll.UntilAsync(() => engine.Engine.Fault is not null, Timeout);
        await Assert.ThrowsAsync<EngineStoppedException>(Serve);
        Assert.Equal(0, engine.Engine.Status.RunningRequests);
        Assert.Equal(0, engine.Engine.Status.WaitingRequests);
    }

    [Fact]
    public async Task AFaultedEngine_TurnsHealthNotServing_AndStopsTheHostWithANonZeroExitCode()
    {
        var engine = new FakeEngine();
        await using var server = await TestServer.StartAsync(output, engine);
        var health = new Health.HealthClient(server.Channel);
        await Poll.UntilAsync(async () => (await health.CheckAsync(new HealthCheckRequest())).Status == HealthCheckResponse.Types.ServingStatus.Serving);
        var stopping = server.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().ApplicationStopping;
        var stopRequested = new TaskCompletionSource();
        stopping.Register(() => stopRequested.TrySetResult());

        engine.Fault = new InvalidOperationException("the engine loop failed");

        await stopRequested.Task.WaitAsync(Timeout);
        Assert.Equal(EngineLifetime.FaultedExitCode, server.Services.GetRequiredService<EngineLifetime>().ExitCode);
        var status = await health.CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, status.Status);
    }
}
