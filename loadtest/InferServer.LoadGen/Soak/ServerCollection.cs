using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;

namespace InferServer.LoadGen.Soak;

/// <summary>
/// Induces a full blocking garbage collection in the server process, from outside, through the runtime's diagnostics IPC
/// (the mechanism dotnet-gcdump uses: an EventPipe session asking the runtime provider for the GCHeapCollect keyword
/// makes the runtime collect). The soak reads RSS after one at the baseline and one at the end, so both readings see
/// the managed heap in the same state: live data only, free regions handed back. Without it the readings catch the GC
/// wherever its budgets happen to be (a gen0 budget, garbage waiting for the next gen2, dead objects waiting for their
/// finalizers), which on this server is tens of MiB either way and says nothing about a leak.
/// </summary>
public static class ServerCollection
{
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";
    private const long GcHeapCollectKeyword = 0x800000;
    private const string Gen2Collections = "dotnet_collection_count_total{generation=\"2\"}";

    private const string FinalizationPending = "dotnet_gc_finalization_pending_objects";

    /// <summary>
    /// Collects in process <paramref name="processId"/> until a collection finds (almost) nothing waiting for a finalizer:
    /// each round waits for the gen2 count on /metrics to move, then gives the finalizers it queued time to run, so that
    /// the next round frees what they released (TorchSharp's PinnedArray and Scalar keep their arrays and native handles
    /// until theirs has run; the server drops tens of thousands of them a minute). At most five rounds.
    /// </summary>
    public static async Task CollectAsync(int processId, HttpClient metrics, CancellationToken cancellationToken)
    {
        for (var round = 0; round < 5; round++)
        {
            var before = await Gen2CountAsync(metrics, cancellationToken);
            var client = new DiagnosticsClient(processId);
            using (var session = client.StartEventPipeSession(
                       [new EventPipeProvider(RuntimeProvider, EventLevel.Informational, GcHeapCollectKeyword)], requestRundown: false))
            {
                var drain = session.EventStream.CopyToAsync(Stream.Null, cancellationToken);
                var clock = Stopwatch.StartNew();
                while (await Gen2CountAsync(metrics, cancellationToken) <= before)
                {
                    if (clock.Elapsed > TimeSpan.FromSeconds(60))
                        throw new TimeoutException($"process {processId} did not collect within 60 s of the request");
                    await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
                }
                await session.StopAsync(cancellationToken);
                try { await drain; }
                catch (Exception exception) when (exception is IOException or ObjectDisposedException or OperationCanceledException) { }
            }
            if (await ReadAsync(metrics, FinalizationPending, cancellationToken) < 100) return;
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        }
    }

    private static Task<double> Gen2CountAsync(HttpClient metrics, CancellationToken cancellationToken) =>
        ReadAsync(metrics, Gen2Collections, cancellationToken);

    /// <summary>One sample of /metrics, by its exact name and labels as printed.</summary>
    private static async Task<double> ReadAsync(HttpClient metrics, string sample, CancellationToken cancellationToken)
    {
        var text = await metrics.GetStringAsync("metrics", cancellationToken);
        foreach (var line in text.Split('\n'))
            if (line.StartsWith(sample + " ", StringComparison.Ordinal))
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"/metrics has no {sample}");
    }
}
