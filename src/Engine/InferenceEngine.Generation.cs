using InferServer.Kernels.Sampling;
using InferServer.Engine.Models;

namespace InferServer.Engine;

/// <summary>The generation loop (causal models): one turn = take arrivals, reap, plan, run one step, stream tokens.</summary>
public sealed partial class InferenceEngine
{
    private void RunGeneration(ICausalLanguageModel causal)
    {
        var scheduler = new GenerationScheduler(options, blocks!, adapters, time);
        var allowedVocabulary = Math.Min(tokenizer.VocabularySize, causal.Shape.VocabularySize);
        var runner = new CausalStepRunner(causal, kvCache!, blocks!, allowedVocabulary);
        List<StepItem>? step = null;
        try
        {
            Supervise(
                () =>
                {
                    step = null;
                    GenerationTurn(scheduler, runner, planned => step = planned);
                },
                error => FailSequences(scheduler, step?.Select(item => item.Sequence) ?? scheduler.Running.Concat(scheduler.Waiting),
                    new EngineFailedException("the engine failed while running this request; see the server log", error)));
        }
        finally
        {
            var error = fault is null && stopRequested ? new EngineStoppedException() : EngineStoppedException.Faulted();
            FailSequences(scheduler, scheduler.Running.Concat(scheduler.Waiting), error);
            try
            {
                adapters.PrepareMerged(null);
            }
            catch (Exception e)
            {
                Log.TurnFailed(logger, 0, e);
            }
        }
    }

    private void GenerationTurn(GenerationScheduler scheduler, CausalStepRunner runner, Action<List<StepItem>> planned)
    {
        while (incomingGenerations.TryDequeue(out var arrived))
            scheduler.Enqueue(arrived);
        Reap(scheduler);
        adapters.FreeRetired();
        var items = scheduler.Plan();
        foreach (var (sequence, error) in scheduler.TakeRefused())
        {
            Log.AdmissionFailed(logger, sequence.Adapter ?? "", error);
            sequence.Fail(new EngineFailedException("the server could not prepare this request's adapter; see the server log", error));
        }
        if (items.Count == 0)
        {
            status = Snapshot(scheduler.Running, scheduler.Waiting, adapters.Residency);
            wake.WaitOne(IdleWait);
            return;
        }
        planned(items);
        var merged = PrepareMerged(items);
        SampledToken?[] sampled;
        try
        {
            sampled = runner.Run(items, merged);
        }
        catch (Exception e)
        {
            // A step that fails (a libtorch error on one odd input, memory running out) fails the requests in it, not the server.
            Log.StepFailed(logger, items.Count, e);
            FailSequences(scheduler, items.Select(item => item.Sequence),
                new EngineFailedException("the model step running this request failed; see the server log", e));
            CountFailure(e);
            return;
        }
        Interlocked.Increment(ref steps);
        Interlocked.Add(ref rowsProcessed, items.Count);
        var now = time.GetUtcNow();
        for (var i = 0; i < items.Count; i++)
        {
            try
            {
                Commit(scheduler, items[i], sampled[i], merged, now);
            }
            catch (Exception e)
            {
                Log.StepFailed(logger, 1, e);
                FailSequences(scheduler, [items[i].Sequence], new EngineFailedException("streaming this request's output failed; see the server log", e));
            }
        }
        status = Snapshot(scheduler.Running, scheduler.Waiting, adapters.Residency);
    }

    /// <summary>Records a step's progress for one sequence and streams its sampled token, finishing it when done.</summary>
    private void Commit(GenerationScheduler scheduler, StepItem item, SampledToken? sampled, bool merged, DateTimeOffset now)
    {
        var sequence = item.Sequence;
        Interlocked.Add(ref promptTokensProcessed, Math.Max(0, Math.Min(item.Start + item.Count, sequence.PromptLength) - item.Start));
        sequence.ComputedTokens = item.Start + item.Count;
        if (merged && sequence.ServedFrom == AdapterServedFrom.Device)
            sequence.ServedFrom = AdapterServedFrom.Merged;
        if (sampled is not { } token)
            return;
        Interlocked.Increment(ref tokensGenerated);
        sequence.FirstToken ??= now;
        if (sequence.Accept(token) is { } reason)
        {
            scheduler.Remove(sequence);
            sequence.Finish(reason, now);
        }
    }

    /// <summary>Removes cancelled, expired, failed-to-load and load-timed-out sequences; times finished loads.</summary>
    private void Reap(GenerationScheduler scheduler)
    {
        var now = time.GetUtcNow();
        foreach (var sequence in scheduler.Running.Concat(scheduler.Waiting).ToArray())
        {
            Exception? failure = sequence.IsCancelled ? new OperationCanceledException("the caller cancelled the request")
                : sequence.IsExpired(now) ? new DeadlineExceededException(sequence.FirstToken is null ? "before the first token" : "while generating")
                : null;
            // A pin that failed, however early (even before the sequence was enqueued), ends the sequence; left waiting,
            // it could never run, and once overdue it would block every admission behind it.
            if (failure is null && sequence.Hold is { Failure: { } pinFailure })
                failure = pinFailure;
            if (failure is null && sequence.AwaitingLoad && sequence.Hold is { IsPending: false })
            {
                sequence.AwaitingLoad = false;
                sequence.AdapterLoad = now - sequence.Submitted;
            }
            if (failure is null && sequence.AwaitingLoad && now - sequence.Submitted >= options.AdapterLoadTimeout)
                failure = new AdapterLoadTimeoutException(sequence.Adapter!, options.AdapterLoadTimeout);
            if (failure is not null)
                FailSequences(scheduler, [sequence], failure);
        }
    }

    /// <summary>Uses the merge cache when every row of the step runs the same adapter; a merge that fails falls back to the slots.</summary>
    private bool PrepareMerged(List<StepItem> items)
    {
        var first = items[0].Sequence.HostAdapter;
        var single = first is not null && items.All(i => ReferenceEquals(i.Sequence.HostAdapter, first));
        try
        {
            return adapters.PrepareMerged(single ? first : null);
        }
        catch (Exception e) when (single)
        {
            // Merging is an optimisation: out of memory for the merged copy, the step runs on the LoRA path instead.
            Log.MergeFailed(logger, first!.Name, e);
            return adapters.PrepareMerged(null);
        }
    }

    /// <summary>Ends <paramref name="sequences"/> with <paramref name="error"/>, releasing everything each one holds.</summary>
    private void FailSequences(GenerationScheduler scheduler, IEnumerable<GenerationSequence> sequences, Exception error)
    {
        foreach (var sequence in sequences.ToArray())
        {
            try
            {
                scheduler.Remove(sequence);
            }
            catch (Exception e)
            {
                Log.ReleaseFailed(logger, e);
            }
            finally
            {
                sequence.ReleaseClaims();
                sequence.Fail(error);
            }
        }
    }
}
