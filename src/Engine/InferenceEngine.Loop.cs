using InferServer.Engine.Models;
using static TorchSharp.torch;

namespace InferServer.Engine;

/// <summary>
/// The engine thread and its supervision: everything here runs on it alone.
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
public sealed partial class InferenceEngine
{
    private static readonly TimeSpan IdleWait = TimeSpan.FromMilliseconds(50);

    /// <summary>Failed steps or turns in a row, with no successful step between, after which the engine is considered broken.</summary>
    private const int MaxConsecutiveFailures = 5;

    private int failedInARow;

    private void RunLoop()
    {
        try
        {
            using var noGrad = no_grad();
            if (options.TorchThreads > 0)
                set_num_threads(options.TorchThreads);
            if (model is ICausalLanguageModel causal)
                RunGeneration(causal);
            else
                RunClassification((ISequenceClassifier)model);
        }
        catch (Exception e)
        {
            fault = e;
            Log.EngineFaulted(logger, e);
        }
        finally
        {
            CloseAdmissions();
            stopped.TrySetResult();
        }
    }

    /// <summary>Runs <paramref name="turn"/> until stopped, supervising it as the class remarks describe.</summary>
    private void Supervise(Action turn, Action<Exception> failConcerned)
    {
        while (!stopRequested)
        {
            Beat();
            var stepsBefore = Interlocked.Read(ref steps);
            try
            {
                turn();
            }
            catch (Exception e)
            {
                Log.TurnFailed(logger, failedInARow + 1, e);
                failConcerned(e);
                CountFailure(e);
            }
            // Only a step that ran resets the count: idle turns between failing ones prove nothing.
            if (Interlocked.Read(ref steps) > stepsBefore)
                failedInARow = 0;
        }
    }

    /// <summary>
    /// Counts a failed turn or step; throws (ending the loop, see the class remarks) when too many failed in a row with no
    /// successful step between them: a device that was lost fails every step, and health must then say so.
    /// </summary>
    private void CountFailure(Exception error)
    {
        if (++failedInARow >= MaxConsecutiveFailures)
            throw new InvalidOperationException($"{failedInARow} engine steps in a row failed; the last error is the inner exception", error);
    }

    private void Beat() => Interlocked.Exchange(ref heartbeatTicks, time.GetUtcNow().UtcTicks);

    /// <summary>
    /// Refuses every later request and ends those still in the incoming queues (they never reached the loop). Under the
    /// admission lock, so a request is either enqueued before this drain or refused by <see cref="Enqueue"/>.
    /// </summary>
    private void CloseAdmissions()
    {
        lock (admission)
        {
            accepting = false;
            closed = true;
        }
        var error = fault is null ? new EngineStoppedException() : EngineStoppedException.Faulted();
        while (incomingGenerations.TryDequeue(out var sequence))
        {
            sequence.ReleaseClaims();
            sequence.Fail(error);
        }
        while (incomingClassifications.TryDequeue(out var job))
        {
            job.ReleaseClaims();
            job.Completion.TrySetException(error);
        }
        status = status with { WaitingRequests = queue.Count, RunningRequests = 0 };
    }

    private EngineStatus Snapshot(IReadOnlyList<GenerationSequence> running, IReadOnlyList<GenerationSequence> waiting, AdapterResidency residency) =>
        new(
            WaitingRequests: queue.Count,
            RunningRequests: running.Count,
            KvCacheUsage: blocks?.Usage ?? 0,
            MaxDeviceAdapters: adapters.DeviceSlots,
            RunningAdapters: running.Select(s => s.Adapter).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToArray(),
            WaitingAdapters: waiting.Select(s => s.Adapter).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToArray(),
            UpdatedAt: time.GetUtcNow(),
            Steps: Interlocked.Read(ref steps),
            RowsProcessed: Interlocked.Read(ref rowsProcessed),
            PromptTokensProcessed: Interlocked.Read(ref promptTokensProcessed),
            TokensGenerated: Interlocked.Read(ref tokensGenerated),
            KvCacheBytes: kvCache?.Bytes ?? 0,
            DeviceAdapterBytes: residency.DevicePoolBytes + residency.MergedBytes,
            HostAdapterBytes: residency.HostBytes)
        {
            KvBlocksInUse = blocks is null ? 0 : blocks.TotalBlocks - blocks.FreeBlocks,
            Adapters = residency,
        };
}
