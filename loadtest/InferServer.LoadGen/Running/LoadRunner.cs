using System.Collections.Concurrent;
using InferServer.LoadGen.Results;
using InferServer.LoadGen.Scenarios;
using InferServer.LoadGen.Targets;

namespace InferServer.LoadGen.Running;

/// <summary>Drives a request plan against a target in closed or open loop, bounded by the plan's count and the shape's duration.</summary>
public sealed class LoadRunner(IGenerationTarget target, LoadShape shape)
{
    /// <summary>Open-loop arrivals not sent because <see cref="LoadShape.MaxInFlight"/> requests were outstanding.</summary>
    public int Shed { get; private set; }

    /// <summary>Runs every phase in order (each to completion before the next) and returns the outcomes and the wall time.</summary>
    public async Task<(IReadOnlyList<RequestOutcome> Outcomes, double WallSeconds)> RunAsync(RequestPlan plan, RunClock clock, CancellationToken cancellationToken)
    {
        var outcomes = new ConcurrentBag<RequestOutcome>();
        var deadline = shape.Duration.TotalSeconds;
        // Outstanding requests are cancelled at duration + grace, so a stuck server cannot hold the run open.
        using var hardStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        hardStop.CancelAfter(shape.Duration + shape.Grace);
        var started = clock.Now;
        foreach (var phase in plan.Phases)
        {
            if (clock.Now - started >= deadline || hardStop.IsCancellationRequested) break;
            if (shape.Open)
                await RunOpenAsync(phase, clock, started + deadline, outcomes, hardStop.Token);
            else
                await RunClosedAsync(phase, clock, started + deadline, outcomes, hardStop.Token);
        }
        return (outcomes.OrderBy(outcome => outcome.Index).ToArray(), clock.Now - started);
    }

    private async Task RunClosedAsync(IReadOnlyList<PlannedRequest> phase, RunClock clock, double stopAt,
        ConcurrentBag<RequestOutcome> outcomes, CancellationToken cancellationToken)
    {
        var next = -1;
        async Task Worker()
        {
            while (!cancellationToken.IsCancellationRequested && clock.Now < stopAt)
            {
                var position = Interlocked.Increment(ref next);
                if (position >= phase.Count) return;
                outcomes.Add(await target.SendAsync(phase[position], clock.Now, clock, cancellationToken));
            }
        }
        var workers = Math.Min(shape.Concurrency, phase.Count);
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(Worker, CancellationToken.None)));
    }

    private async Task RunOpenAsync(IReadOnlyList<PlannedRequest> phase, RunClock clock, double stopAt,
        ConcurrentBag<RequestOutcome> outcomes, CancellationToken cancellationToken)
    {
        var random = new Random(shape.Seed);
        var inFlight = new List<Task>();
        var outstanding = 0;
        var arrival = clock.Now;
        foreach (var request in phase)
        {
            // Poisson process: exponential gaps with mean 1/rate (inverse CDF of Exp(rate); 1 - U avoids log 0).
            arrival += -Math.Log(1 - random.NextDouble()) / shape.RatePerSecond;
            if (arrival >= stopAt || cancellationToken.IsCancellationRequested) break;
            var wait = arrival - clock.Now;
            if (wait > 0)
            {
                try { await Task.Delay(TimeSpan.FromSeconds(wait), cancellationToken); }
                catch (OperationCanceledException) { break; }
            }
            if (Volatile.Read(ref outstanding) >= shape.MaxInFlight)
            {
                Shed++;
                continue;
            }
            Interlocked.Increment(ref outstanding);
            var scheduled = arrival;
            inFlight.Add(Task.Run(async () =>
            {
                try { outcomes.Add(await target.SendAsync(request, scheduled, clock, cancellationToken)); }
                finally { Interlocked.Decrement(ref outstanding); }
            }, CancellationToken.None));
        }
        await Task.WhenAll(inFlight);
    }
}
