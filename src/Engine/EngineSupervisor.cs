using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace InferServer.Engine;

/// <summary>
/// The engine thread and its supervision, the same for both modes: it turns the <see cref="IEngineMode"/> until
/// stopped, counts failures, beats the heartbeat, publishes <see cref="EngineStatus"/> and runs the drain.
/// </summary>
/// <remarks>
/// Supervision has two levels. Failures whose scope is known are contained where they happen and end only the requests
/// they concern, releasing their KV blocks, slot, queue place and pin: a failing step fails its rows, a slot write or
/// adapter that does not fit fails the request being admitted, a failing merge falls back to the unmerged path, an
/// error while streaming one sequence's token ends that sequence. An exception that escapes a whole turn of the loop is
/// a bug whose scope is unknown: the requests of that turn's step (or, before a step was planned, every request in the
/// engine) are failed, and the loop goes on. Only when <see cref="MaxConsecutiveFailures"/> steps or turns fail in a row,
/// with no successful step between them, does the engine give up: <see cref="Fault"/> is set, every running and queued request ends with UNAVAILABLE at once, and
/// the host reports NOT_SERVING and exits non-zero so that the orchestrator restarts it.
/// </remarks>
internal sealed class EngineSupervisor
{
    private static readonly TimeSpan IdleWait = TimeSpan.FromMilliseconds(50);

    /// <summary>Failed steps or turns in a row, with no successful step between, after which the engine is considered broken.</summary>
    internal const int MaxConsecutiveFailures = 5;

    private readonly IEngineMode mode;
    private readonly EngineAdmission admission;
    private readonly EngineCounters counters;
    private readonly IEngineAdapters adapters;
    private readonly int torchThreads;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly Thread thread;
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool stopRequested;
    private volatile EngineStatus status;
    private volatile Exception? fault;
    private long heartbeatTicks;
    private int failedInARow;

    /// <summary>Prepares the loop over <paramref name="mode"/>; <see cref="Start"/> starts its thread.</summary>
    public EngineSupervisor(IEngineMode mode, EngineAdmission admission, EngineCounters counters, IEngineAdapters adapters,
        int torchThreads, ILogger logger, TimeProvider time)
    {
        this.mode = mode;
        this.admission = admission;
        this.counters = counters;
        this.adapters = adapters;
        this.torchThreads = torchThreads;
        this.logger = logger;
        this.time = time;
        status = Snapshot(AdapterResidency.None);
        Beat();
        thread = new Thread(RunLoop) { IsBackground = true, Name = "InferServer engine" };
    }

    public EngineStatus Status => status;

    /// <summary>Why the loop gave up; null while it serves.</summary>
    public Exception? Fault => fault;

    /// <summary>When the loop last turned.</summary>
    public DateTimeOffset Heartbeat => new(Interlocked.Read(ref heartbeatTicks), TimeSpan.Zero);

    public bool StopRequested => stopRequested;

    /// <summary>Completes when the loop has ended and every request in it has been ended.</summary>
    public Task Stopped => stopped.Task;

    public void Start() => thread.Start();

    /// <summary>Stops admitting requests, lets queued and running ones finish within <paramref name="drainTimeout"/>, then stops.</summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        admission.StopAccepting();
        using var drain = new CancellationTokenSource(drainTimeout);
        try
        {
            while (!stopped.Task.IsCompleted && (admission.Queued > 0 || status.RunningRequests > 0 || status.WaitingRequests > 0))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), time, drain.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            InferenceEngine.Log.DrainTimedOut(logger, drainTimeout.TotalSeconds);
        }
        stopRequested = true;
        admission.Wake();
        await stopped.Task.ConfigureAwait(false);
    }

    private void RunLoop()
    {
        try
        {
            using var noGrad = no_grad();
            if (torchThreads > 0)
            {
                set_num_threads(torchThreads);
            }

            try
            {
                Supervise();
            }
            finally
            {
                mode.EndAll(fault is null && stopRequested ? new EngineStoppedException() : EngineStoppedException.Faulted());
            }
        }
        catch (Exception e)
        {
            fault = e;
            InferenceEngine.Log.EngineFaulted(logger, e);
        }
        finally
        {
            CloseAdmissions();
            stopped.TrySetResult();
        }
    }

    /// <summary>Turns the mode until stopped, supervising it as the class remarks describe.</summary>
    private void Supervise()
    {
        while (!stopRequested)
        {
            Beat();
            var stepsBefore = counters.Steps;
            try
            {
                var outcome = mode.Turn();
                if (outcome.StepFailure is { } stepFailure)
                {
                    CountFailure(stepFailure);
                }
                else
                {
                    status = Snapshot(adapters.Residency);
                    if (!outcome.RanStep)
                    {
                        admission.WaitForWork(IdleWait);
                    }
                }
            }
            catch (Exception e)
            {
                InferenceEngine.Log.TurnFailed(logger, failedInARow + 1, e);
                mode.FailTurn(e);
                CountFailure(e);
            }
            // Only a step that ran resets the count: idle turns between failing ones prove nothing.
            if (counters.Steps > stepsBefore)
            {
                failedInARow = 0;
            }
        }
    }

    /// <summary>
    /// Counts a failed turn or step; throws (ending the loop, see the class remarks) when too many failed in a row with no
    /// successful step between them: a device that was lost fails every step, and health must then say so.
    /// </summary>
    private void CountFailure(Exception error)
    {
        if (++failedInARow >= MaxConsecutiveFailures)
        {
            throw new InvalidOperationException($"{failedInARow} engine steps in a row failed; the last error is the inner exception", error);
        }
    }

    private void Beat() => Interlocked.Exchange(ref heartbeatTicks, time.GetUtcNow().UtcTicks);

    /// <summary>
    /// Refuses every later request and ends those still queued for the engine thread (they never reached the loop).
    /// Admissions close under their lock, so a request is either enqueued before this drain or refused.
    /// </summary>
    private void CloseAdmissions()
    {
        admission.Close();
        mode.RefuseArrivals(fault is null ? new EngineStoppedException() : EngineStoppedException.Faulted());
        status = status with { WaitingRequests = admission.Queued, RunningRequests = 0 };
    }

    private EngineStatus Snapshot(AdapterResidency residency)
    {
        var load = mode.Load;
        return new(
            WaitingRequests: admission.Queued,
            RunningRequests: load.RunningRequests,
            KvCacheUsage: load.KvCacheUsage,
            MaxDeviceAdapters: adapters.DeviceSlots,
            RunningAdapters: load.RunningAdapters.OfType<string>().Distinct().Order(StringComparer.Ordinal).ToArray(),
            WaitingAdapters: load.WaitingAdapters.OfType<string>().Distinct().Order(StringComparer.Ordinal).ToArray(),
            UpdatedAt: time.GetUtcNow(),
            Steps: counters.Steps,
            RowsProcessed: counters.RowsProcessed,
            PromptTokensProcessed: counters.PromptTokensProcessed,
            TokensGenerated: counters.TokensGenerated,
            KvCacheBytes: load.KvCacheBytes,
            DeviceAdapterBytes: residency.DevicePoolBytes + residency.MergedBytes,
            HostAdapterBytes: residency.HostBytes)
        {
            KvBlocksInUse = load.KvBlocksInUse,
            KvBlocksCached = load.KvBlocksCached,
            Adapters = residency,
        };
    }
}
