using Grpc.Core;
using Grpc.Health.V1;

namespace InferServer.LoadGen.Soak;

/// <summary>
/// The continuous checks beside the traffic: grpc.health.v1 polled as an orchestrator would (SERVING every time), and
/// the engine's fault gauge on /metrics (0 every time: the engine thread is alive).
/// </summary>
public sealed class HealthWatch(Health.HealthClient health, HttpClient metrics, SoakLedger ledger)
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    // Generous: on a busy 2-core machine a probe can wait for a core, but a server that cannot answer in 10 s is not serving.
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(10);

    public int Probes { get; private set; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await ProbeAsync();
            try { await Task.Delay(Interval, cancellationToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>One probe of both; also run once after the traffic.</summary>
    public async Task ProbeAsync()
    {
        Probes++;
        try
        {
            var reply = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow + ProbeTimeout);
            if (reply.Status != HealthCheckResponse.Types.ServingStatus.Serving) ledger.Violation($"health answered {reply.Status}");
        }
        catch (RpcException exception)
        {
            ledger.Violation($"health probe ended {exception.StatusCode}");
        }
        using var timeout = new CancellationTokenSource(ProbeTimeout);
        try
        {
            var snapshot = await ResourceSnapshot.ReadAsync(metrics, timeout.Token);
            if (snapshot[ResourceSnapshot.Faulted] != 0) ledger.Violation($"{ResourceSnapshot.Faulted} is {snapshot[ResourceSnapshot.Faulted]}");
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException)
        {
            ledger.Violation($"/metrics did not answer: {exception.Message}");
        }
    }
}
