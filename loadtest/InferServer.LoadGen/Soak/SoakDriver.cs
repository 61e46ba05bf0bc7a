using System.Diagnostics;
using Grpc.Health.V1;
using InferServer.Api.V1;
using InferServer.LoadGen.Targets;

namespace InferServer.LoadGen.Soak;

/// <summary>
/// The soak: drives a running server with every kind of traffic at once and checks that it stays correct and returns
/// to where it started. The same driver runs in the test suite (about a minute) and in the long mode
/// (<c>inferserver-loadgen soak</c>, scripts/soak.sh).
///
/// Phases: (1) solo answers, one request at a time; (2) warm-up: the full mix, so pools, slots and JIT reach their
/// working size; (3) baseline: every valid adapter unloaded, counters read once idle, RSS read; adapters loaded again;
/// (4) traffic for <see cref="SoakOptions.Duration"/> with churn, bursts and the health watch; (5) the same unload, then
/// every counter must come back to its baseline value within <see cref="SoakOptions.SettleTimeout"/> and RSS within
/// <see cref="SoakOptions.RssTolerance"/>. Unloading everything at both points makes the adapter tiers empty both times,
/// so live tensors, host copies, device slots and merged copies can be compared exactly, and it checks that an unload
/// really frees what the adapter held.
/// </summary>
public sealed class SoakDriver(SoakTargets targets, SoakOptions options, TextWriter log)
{
    private static readonly TimeSpan RefusedBackOff = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Run before each RSS reading, so that both readings find the server's managed heap in the same state. When the
    /// server runs in the driver's own process (the test suite), the test collects there, which also returns the driver's
    /// own garbage; against a server in another process, <c>inferserver-loadgen soak --server-pid</c> induces a full
    /// collection in it (<see cref="ServerCollection"/>).
    /// </summary>
    public Func<Task>? BeforeRssReading { get; init; }

    public async Task<SoakReport> RunAsync(CancellationToken cancellationToken)
    {
        using var client = await SoakClient.ConnectAsync(targets, options, cancellationToken);
        using var channel = GrpcGenerationTarget.CreateChannel(targets.Grpc);
        using var metrics = new HttpClient { BaseAddress = targets.Metrics, Timeout = TimeSpan.FromSeconds(30) };
        var admin = new SoakAdmin(new Admin.AdminClient(channel), targets.AdminKey);

        var listed = await admin.ListAsync();
        var broken = options.BrokenAdapters.ToHashSet(StringComparer.Ordinal);
        var valid = listed.Select(adapter => adapter.Name).Where(name => !broken.Contains(name) && !name.StartsWith(SoakPlanner.CopyName(""), StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToArray();
        var directories = listed.ToDictionary(adapter => adapter.Name, adapter => adapter.Directory, StringComparer.Ordinal);
        var churned = SoakPlanner.ChooseChurned(valid, options.ChurnAdapters);
        log.WriteLine($"soak: seed {options.Seed}, {valid.Length} adapters ({churned.Count} churned), {broken.Count} broken, " +
                      $"{options.Concurrency} workers, bursts of {options.BurstSize}, warm-up {options.WarmUp.TotalSeconds:0} s, traffic {options.Duration.TotalSeconds:0} s");

        var clock = Stopwatch.StartNew();
        var solo = await SoloAnswers.ComputeAsync(client, ["", .. valid], options);
        var longCall = await SoloAnswers.TimeLongCallAsync(client, options);
        log.WriteLine($"soak: {solo.Count} solo answers in {clock.Elapsed.TotalSeconds:0.0} s; a {options.LongTokens}-token call alone takes {longCall.TotalMilliseconds:0} ms");

        var ledger = new SoakLedger(options.Seed, solo);
        var planner = new SoakPlanner(options, valid, churned, longCall);
        var churn = new AdapterChurn(admin, churned, directories, options.ChurnInterval, ledger);
        var watch = new HealthWatch(new Health.HealthClient(channel), metrics, ledger);

        await RunTrafficAsync(client, planner, ledger, churn, watch, options.WarmUp);
        await churn.RestoreAsync();
        await UnloadAllAsync(admin, valid, ledger);
        var baseline = await SettleAsync(metrics, null, cancellationToken);
        var memoryAfterWarmUp = await ReadRssAsync(metrics, cancellationToken);
        var rssAfterWarmUp = memoryAfterWarmUp[ResourceSnapshot.Rss];
        log.WriteLine($"soak: warm-up done after {clock.Elapsed.TotalSeconds:0.0} s, {ledger.Requests} calls; baseline " +
                      string.Join(' ', ResourceSnapshot.Returning.Select(name => $"{name}={baseline[name]}")));
        foreach (var adapter in valid)
            if (await admin.LoadAsync(adapter) is not SoakOutcome.Ok and var status)
                ledger.Violation($"loading {adapter} after the baseline ended {status}");

        var traffic = Stopwatch.StartNew();
        await RunTrafficAsync(client, planner, ledger, churn, watch, options.Duration);
        traffic.Stop();
        await churn.RestoreAsync();
        await watch.ProbeAsync();
        await UnloadAllAsync(admin, valid, ledger);
        var end = await SettleAsync(metrics, baseline, cancellationToken);
        var memoryAfterTraffic = await ReadRssAsync(metrics, cancellationToken);
        var rssAfterTraffic = memoryAfterTraffic[ResourceSnapshot.Rss];

        var leaks = end.DifferencesFrom(baseline).ToList();
        log.WriteLine($"soak: prefix cache: {end["inferserver_prefix_cache_cached_tokens_total"]} of {end["inferserver_prefix_cache_prompt_tokens_total"]} " +
                      $"prompt tokens reused, {end["inferserver_kv_cache_cached_blocks"]} blocks cached, {end["inferserver_kv_cache_blocks_in_use"]} in use");
        if (rssAfterTraffic > rssAfterWarmUp * (1 + options.RssTolerance))
            leaks.Add($"{ResourceSnapshot.Rss}: {rssAfterWarmUp / (1 << 20):0.0} MiB -> {rssAfterTraffic / (1 << 20):0.0} MiB (over {options.RssTolerance:P0})");
        // Leave the server as it was found: every adapter registered.
        foreach (var adapter in valid) await admin.LoadAsync(adapter);
        return new SoakReport(options.Seed, ledger.Requests, ledger.Cancelled, ledger.Deadline, ledger.Unloads, ledger.Lost, ledger.Wrong, leaks,
            ledger.Refused, ledger.ViolationCount, ledger.Violations, ledger.Endings, traffic.Elapsed, watch.Probes, rssAfterWarmUp, rssAfterTraffic,
            memoryAfterWarmUp[ResourceSnapshot.GcCommitted], memoryAfterTraffic[ResourceSnapshot.GcCommitted], memoryAfterWarmUp.GcLive, memoryAfterTraffic.GcLive,
            new StructuredCounts(ledger.ConstrainedValid, ledger.ToolRepliesValid, ledger.ToolCalls, ledger.StructuredUnfinished, ledger.StructuredCancelled));
    }

    /// <summary>Steady workers, bursts, churn and the health watch, all at once, for <paramref name="length"/>; returns when every call has ended.</summary>
    private async Task RunTrafficAsync(SoakClient client, SoakPlanner planner, SoakLedger ledger, AdapterChurn churn, HealthWatch watch, TimeSpan length)
    {
        using var stop = new CancellationTokenSource(length);
        var workers = Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                // A refused client backs off before it asks again, as real clients do on RESOURCE_EXHAUSTED; without it a
                // worker would spin on refusals while a burst drains and the mix would be mostly refusals.
                if (await SendAsync(client, planner.Next(burst: false), ledger) == "ResourceExhausted")
                    await Task.Delay(RefusedBackOff);
            }
        }));
        var bursts = Task.Run(async () =>
        {
            while (true)
            {
                try { await Task.Delay(options.BurstInterval, stop.Token); }
                catch (OperationCanceledException) { return; }
                await Task.WhenAll(Enumerable.Range(0, options.BurstSize).Select(_ => SendAsync(client, planner.Next(burst: true), ledger)));
            }
        });
        await Task.WhenAll([.. workers, bursts, churn.RunAsync(stop.Token), watch.RunAsync(stop.Token)]);
    }

    /// <summary>Sends one call and records how it ended, or that it did not end within its deadline plus one second.</summary>
    private async Task<string> SendAsync(SoakClient client, SoakCall call, SoakLedger ledger)
    {
        var budget = (call.Fate == SoakFate.Deadline ? call.Deadline : options.CallDeadline) + TimeSpan.FromSeconds(1);
        var clock = Stopwatch.StartNew();
        var sending = client.SendAsync(call);
        SoakOutcome outcome;
        try
        {
            outcome = await sending.WaitAsync(budget);
        }
        catch (TimeoutException)
        {
            ledger.RecordLost(call, budget);
            return "Lost";
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException)
        {
            outcome = new SoakOutcome($"{exception.GetType().Name}: {exception.Message}", null);
        }
        ledger.Record(call, outcome, clock.Elapsed);
        return outcome.Status;
    }

    private static async Task UnloadAllAsync(SoakAdmin admin, IReadOnlyList<string> adapters, SoakLedger ledger)
    {
        foreach (var adapter in adapters)
            if (await admin.UnloadAsync(adapter) is not SoakOutcome.Ok and var status)
                ledger.Violation($"unloading {adapter} with no traffic ended {status}");
    }

    /// <summary>
    /// Waits until the server is idle (no pins, nothing queued or running) and, given a baseline, every returning gauge is
    /// back to it; at the timeout returns what it last read, so the differences are reported rather than waited on forever.
    /// </summary>
    private async Task<ResourceSnapshot> SettleAsync(HttpClient metrics, ResourceSnapshot? baseline, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        ResourceSnapshot? previous = null;
        while (true)
        {
            var snapshot = await ResourceSnapshot.ReadAsync(metrics, cancellationToken);
            var settled = baseline is null
                ? snapshot.IsIdle && previous is not null && previous.DifferencesFrom(snapshot).Count == 0
                : snapshot.DifferencesFrom(baseline).Count == 0;
            if (settled || deadline.Elapsed > options.SettleTimeout) return snapshot;
            previous = snapshot;
            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }
    }

    private async Task<ResourceSnapshot> ReadRssAsync(HttpClient metrics, CancellationToken cancellationToken)
    {
        if (BeforeRssReading is not null) await BeforeRssReading();
        return await ResourceSnapshot.ReadAsync(metrics, cancellationToken);
    }
}
