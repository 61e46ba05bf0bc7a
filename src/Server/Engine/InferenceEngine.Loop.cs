using InferServer.Server.Models;
using static TorchSharp.torch;

namespace InferServer.Server.Engine;

/// <summary>
/// The engine thread and its supervision: everything here runs on it alone.
/// </summary>
/// <remarks>
/// Supervision has two levels. Failures whose scope is known are contained where they happen and end only the requests
/// they concern, releasing their KV blocks, slot, queue place and pin: a failing step fails its rows, a slot write or
/// adapter that does not fit fails the request being admitted, a failing merge falls back to the unmerged path, an
/// error while streaming one sequence's token ends that sequence. An exception that escapes a whole turn of the loop is
/// a bug whose scope is unknown: the requests of that turn's step (or, before a step was planned, every request in the
/// engine) are failed, and the loop goes on. Only when <see cref="MaxConsecutiveFailedTurns"/> turns in a row fail does
/// the engine give up: <see cref="Fault"/> is set, every running and queued request ends with UNAVAILABLE at once, and
/// the host reports NOT_SERVING and exits non-zero so that the orchestrator restarts it.
/// </remarks>
public sealed partial class InferenceEngine
{
    private static readonly TimeSpan IdleWait = TimeSpan.FromMilliseconds(50);

    /// <summary>Failed loop turns in a row after which the engine is considered broken.</summary>
    private const int MaxConsecutiveFailedTurns = 3;

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
        var failedTurns = 0;
        while (!stopRequested)
        {
            Beat();
            try
            {
                turn();
                failedTurns = 0;
            }
            catch (Exception e)
            {
                Log.TurnFailed(logger, failedTurns + 1, e);
                failConcerned(e);
                if (++failedTurns >= MaxConsecutiveFailedTurns)
                    throw;
            }
        }
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
