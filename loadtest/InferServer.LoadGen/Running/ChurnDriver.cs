using InferServer.LoadGen.Targets;
using Grpc.Core;
using InferServer.Api.V1;
using InferServer.LoadGen.Results;

namespace InferServer.LoadGen.Running;

/// <summary>
/// Adapter churn while serving: every interval, unloads one adapter of a rotating set and loads it again from the
/// server's adapter root, through the admin API. Requests naming it in between may fail; the run counts how.
/// </summary>
public sealed class ChurnDriver(Admin.AdminClient admin, Metadata headers, IReadOnlyList<string> adapters, TimeSpan interval, int maxCycles)
{
    /// <summary>Churns until <paramref name="cancellationToken"/> is cancelled or <c>maxCycles</c> cycles are done.</summary>
    public async Task<ChurnSummary> RunAsync(CancellationToken cancellationToken)
    {
        var unload = new List<double>();
        var load = new List<double>();
        var statuses = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var cycles = 0;
        var clock = new RunClock();
        try
        {
            while (cycles < maxCycles && adapters.Count > 0)
            {
                await Task.Delay(interval, cancellationToken);
                var name = adapters[cycles % adapters.Count];
                cycles++;
                await TimedAsync(async () => await admin.UnloadAdapterAsync(new UnloadAdapterRequest { Name = name }, headers, cancellationToken: cancellationToken), unload);
                await TimedAsync(async () => await admin.LoadAdapterAsync(new LoadAdapterRequest { Name = name }, headers, cancellationToken: cancellationToken), load);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The workload ended; the cycle in progress is abandoned.
        }
        return new ChurnSummary(cycles, PercentileSummary.Of(unload), PercentileSummary.Of(load), statuses);

        async Task TimedAsync(Func<Task> call, List<double> latencies)
        {
            var start = clock.Now;
            string status;
            try
            {
                await call();
                latencies.Add((clock.Now - start) * 1000);
                status = "OK";
            }
            catch (RpcException exception) when (exception.StatusCode != StatusCode.Cancelled || !cancellationToken.IsCancellationRequested)
            {
                status = exception.StatusCode.ToString();
            }
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
        }
    }
}
