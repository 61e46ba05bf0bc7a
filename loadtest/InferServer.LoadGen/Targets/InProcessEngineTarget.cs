using InferServer.Kernels.Sampling;
using InferServer.LoadGen.Results;
using InferServer.LoadGen.Running;
using InferServer.LoadGen.Scenarios;
using Microsoft.Extensions.Logging.Abstractions;
using InferServer.Engine;
using InferServer.Engine.Composition;
using InferServer.AdapterStore.Configuration;

namespace InferServer.LoadGen.Targets;

/// <summary>
/// The engine called directly in this process, with the same requests the gRPC target sends: the difference between
/// the two is what gRPC, Kestrel and the API layer cost (the "server overhead" row). The engine is started exactly as
/// the server's hosting composes it (<see cref="EngineComposition"/>), adapters from DIR/adapters included.
/// </summary>
public sealed class InProcessEngineTarget : IGenerationTarget
{
    private readonly InferenceEngineRuntime runtime;
    private readonly InferenceEngine engine;
    private readonly RequestSettings settings;

    private InProcessEngineTarget(InferenceEngineRuntime runtime, RequestSettings settings, string directory)
    {
        this.runtime = runtime;
        engine = runtime.Engine;
        this.settings = settings;
        Description = $"in-process {directory}";
    }

    /// <summary>Starts the engine over the model in <paramref name="modelDirectory"/> and its adapters/.</summary>
    public static async Task<InProcessEngineTarget> StartAsync(string modelDirectory, RequestSettings settings, EngineOptions options)
    {
        var directory = Path.GetFullPath(modelDirectory);
        var runtime = await EngineComposition.StartAsync(options with { ModelPath = directory },
            new AdapterStoreOptions { AdapterRoots = [Path.Combine(directory, "adapters")] }, NullLoggerFactory.Instance, TimeProvider.System);
        return new InProcessEngineTarget(runtime, settings, directory);
    }

    public string Description { get; }

    public async Task<RequestOutcome> SendAsync(PlannedRequest request, double start, RunClock clock, CancellationToken cancellationToken)
    {
        if (settings.Kind is RequestKind.Classify or RequestKind.Embed)
            throw new NotSupportedException("the in-process target drives generation only");
        var generation = new GenerationRequest(request.Adapter, settings.Prompt(request.Index), null, settings.MaxNewTokens,
            new SamplingParameters { Temperature = 0 }, [], [], IgnoreEos: true);
        double? firstToken = null;
        try
        {
            await foreach (var update in engine.GenerateAsync(generation, cancellationToken))
            {
                switch (update)
                {
                    case InferServer.Engine.TokenDelta delta when firstToken is null && delta.TokenIds.Count > 0:
                        firstToken = clock.Now;
                        break;
                    case GenerationFinished finished:
                        return new RequestOutcome(request.Index, request.Adapter, "OK", start, firstToken, clock.Now, finished.Usage.CompletionTokens,
                            finished.Timing.TimeToFirstToken.TotalMilliseconds, finished.Timing.AdapterLoad.TotalMilliseconds, finished.ServedFrom.ToString());
                }
            }
            return new RequestOutcome(request.Index, request.Adapter, "StreamEndedWithoutFinal", start, null, clock.Now, 0, null, null, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new RequestOutcome(request.Index, request.Adapter, "CancelledAtRunEnd", start, null, clock.Now, 0, null, null, null);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // Engine exceptions are what the server's interceptor maps to status codes; their type names say the same.
            return new RequestOutcome(request.Index, request.Adapter, exception.GetType().Name, start, null, clock.Now, 0, null, null, null);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await runtime.StopAsync(TimeSpan.FromSeconds(10));
        await runtime.DisposeAsync();
    }
}
