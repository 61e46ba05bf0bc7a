using InferServer.LoadGen.Results;
using InferServer.LoadGen.Running;
using InferServer.LoadGen.Scenarios;

namespace InferServer.LoadGen.Targets;

/// <summary>Where requests go: the server over gRPC, or the engine in this process.</summary>
public interface IGenerationTarget : IAsyncDisposable
{
    /// <summary>Describes the target for the results ("grpc http://127.0.0.1:50051", "in-process").</summary>
    string Description { get; }

    /// <summary>Sends one request and reports what happened; failures are outcomes, not exceptions.</summary>
    /// <param name="start">The request's start time on <paramref name="clock"/> (its scheduled arrival in open loop).</param>
    Task<RequestOutcome> SendAsync(PlannedRequest request, double start, RunClock clock, CancellationToken cancellationToken);
}
