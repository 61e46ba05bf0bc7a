using InferServer.AdapterStore.Peft;
using InferServer.Kernels.Sampling;
using InferServer.Server.Models;
using static TorchSharp.torch;

namespace InferServer.Server.Engine;

/// <summary>The engine thread: everything here runs on it alone.</summary>
public sealed partial class InferenceEngine
{
    private static readonly TimeSpan IdleWait = TimeSpan.FromMilliseconds(50);

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
            Log.EngineCrashed(logger, e);
            accepting = false;
        }
        finally
        {
            stopped.TrySetResult();
        }
    }

    private void RunGeneration(ICausalLanguageModel causal)
    {
        var scheduler = new GenerationScheduler(options, blocks!, adapters, time);
        var allowedVocabulary = Math.Min(tokenizer.VocabularySize, causal.Shape.VocabularySize);
        var runner = new CausalStepRunner(causal, kvCache!, blocks!, allowedVocabulary);
        while (!stopRequested)
        {
            while (incomingGenerations.TryDequeue(out var arrived))
                scheduler.Enqueue(arrived);
            Reap(scheduler);
            var items = scheduler.Plan();
            Interlocked.Add(ref queued, -scheduler.FirstAdmissions);
            if (items.Count == 0)
            {
                status = Snapshot(scheduler.Running, scheduler.Waiting);
                wake.WaitOne(IdleWait);
                continue;
            }
            var merged = PrepareMerged(items);
            SampledToken?[] sampled;
            try
            {
                sampled = runner.Run(items, merged);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A step that fails (a libtorch error on one odd input, say) fails the requests in it, not the server.
                Log.StepFailed(logger, items.Count, e);
                foreach (var item in items)
                {
                    scheduler.Remove(item.Sequence);
                    item.Sequence.Fail(new InvalidOperationException("the model step running this request failed; see the server log", e));
                }
                continue;
            }
            Interlocked.Increment(ref steps);
            Interlocked.Add(ref rowsProcessed, items.Count);
            var now = time.GetUtcNow();
            for (var i = 0; i < items.Count; i++)
            {
                var item = items[i];
                var sequence = item.Sequence;
                Interlocked.Add(ref promptTokensProcessed, Math.Max(0, Math.Min(item.Start + item.Count, sequence.PromptLength) - item.Start));
                sequence.ComputedTokens = item.Start + item.Count;
                if (merged && sequence.ServedFrom == AdapterServedFrom.Device)
                    sequence.ServedFrom = AdapterServedFrom.Merged;
                if (sampled[i] is not { } token)
                    continue;
                Interlocked.Increment(ref tokensGenerated);
                sequence.FirstToken ??= now;
                if (sequence.Accept(token) is { } reason)
                {
                    scheduler.Remove(sequence);
                    sequence.Finish(reason, now);
                }
            }
            status = Snapshot(scheduler.Running, scheduler.Waiting);
        }
        foreach (var sequence in scheduler.Running.Concat(scheduler.Waiting).ToArray())
        {
            scheduler.Remove(sequence);
            sequence.Fail(new EngineStoppedException());
        }
        adapters.PrepareMerged(null);
    }

    /// <summary>Removes cancelled, expired and failed-to-load sequences; hands finished host loads to their sequences.</summary>
    private void Reap(GenerationScheduler scheduler)
    {
        var now = time.GetUtcNow();
        foreach (var sequence in scheduler.Running.Concat(scheduler.Waiting).ToArray())
        {
            Exception? failure = sequence.IsCancelled ? new OperationCanceledException("the caller cancelled the request")
                : sequence.IsExpired(now) ? new DeadlineExceededException(sequence.FirstToken is null ? "before the first token" : "while generating")
                : null;
            if (failure is null && sequence.HostAdapter is null && sequence.HostLoad is { IsCompleted: true } load)
            {
                if (load.IsCompletedSuccessfully)
                {
                    sequence.HostAdapter = load.Result;
                    sequence.AdapterLoad = now - sequence.Submitted;
                }
                else
                {
                    failure = load.Exception?.InnerException ?? new InvalidOperationException("adapter load failed");
                }
            }
            if (failure is null)
                continue;
            if (sequence.FirstScheduled is null)
                Interlocked.Decrement(ref queued);
            scheduler.Remove(sequence);
            if (sequence.HostAdapter is null)
                ReleaseHostLoad(sequence.HostLoad);
            sequence.Fail(failure);
        }
    }

    /// <summary>Uses the merge cache when every row of the step runs the same adapter; otherwise restores W0.</summary>
    private bool PrepareMerged(List<StepItem> items)
    {
        var first = items[0].Sequence.HostAdapter;
        var single = first is not null && items.All(i => ReferenceEquals(i.Sequence.HostAdapter, first));
        return adapters.PrepareMerged(single ? first : null);
    }

    private void RunClassification(ISequenceClassifier classifier)
    {
        var runner = new ClassificationStepRunner(classifier);
        var waiting = new List<ClassificationJob>();
        while (!stopRequested)
        {
            while (incomingClassifications.TryDequeue(out var arrived))
                waiting.Add(arrived);
            ReapClassifications(waiting);
            var rows = PlanClassification(waiting, out var slots);
            if (rows.Count == 0)
            {
                status = Snapshot([], []);
                wake.WaitOne(IdleWait);
                continue;
            }
            try
            {
                runner.Run(rows);
            }
            finally
            {
                foreach (var slot in slots)
                    adapters.ReleaseSlot(slot);
            }
            Interlocked.Increment(ref steps);
            Interlocked.Add(ref rowsProcessed, rows.Count);
            Interlocked.Add(ref promptTokensProcessed, rows.Sum(r => r.Job.Texts[r.TextIndex].Length));
            foreach (var job in rows.Select(r => r.Job).Distinct())
            {
                job.Done = job.Results.Count(r => r is not null);
                if (job.Done < job.Texts.Count)
                    continue;
                waiting.Remove(job);
                Complete(job);
                job.Completion.TrySetResult(new ClassificationResult(job.Results.Select(r => r!).ToArray(), job.ServedFrom));
            }
            status = Snapshot([], []);
        }
        foreach (var job in waiting)
        {
            Complete(job);
            job.Completion.TrySetException(new EngineStoppedException());
        }
    }

    private List<ClassificationStepRunner.Row> PlanClassification(List<ClassificationJob> waiting, out List<int> slots)
    {
        var rows = new List<ClassificationStepRunner.Row>();
        slots = [];
        var tokens = 0;
        var slotsByAdapter = new Dictionary<LoraAdapter, int>(ReferenceEqualityComparer.Instance);
        foreach (var job in waiting)
        {
            var slot = 0;
            if (job.Adapter is not null)
            {
                if (job.HostAdapter is null)
                    continue;
                if (!slotsByAdapter.TryGetValue(job.HostAdapter, out slot))
                {
                    if (!adapters.TryAcquireSlot(job.HostAdapter, out slot, out var writtenNow))
                        continue;
                    slotsByAdapter[job.HostAdapter] = slot;
                    slots.Add(slot);
                    if (job.ServedFrom == AdapterServedFrom.Base)
                        job.ServedFrom = writtenNow ? AdapterServedFrom.Loaded : AdapterServedFrom.Device;
                }
            }
            if (job.Done == 0 && !rows.Any(r => r.Job == job))
                Interlocked.Decrement(ref queued);
            for (var text = job.Done; text < job.Texts.Count; text++)
            {
                var length = job.Texts[text].Length;
                if (rows.Count >= options.MaxBatchRows || (rows.Count > 0 && tokens + length > options.EncoderMaxBatchTokens))
                    return rows;
                rows.Add(new ClassificationStepRunner.Row(job, text, slot));
                tokens += length;
                job.Done = text + 1;
            }
        }
        return rows;
    }

    private void ReapClassifications(List<ClassificationJob> waiting)
    {
        var now = time.GetUtcNow();
        foreach (var job in waiting.ToArray())
        {
            Exception? failure = job.IsCancelled ? new OperationCanceledException("the caller cancelled the request")
                : job.IsExpired(now) ? new DeadlineExceededException("before classification finished")
                : null;
            if (failure is null && job.HostAdapter is null && job.HostLoad is { IsCompleted: true } load)
            {
                if (load.IsCompletedSuccessfully)
                    job.HostAdapter = load.Result;
                else
                    failure = load.Exception?.InnerException ?? new InvalidOperationException("adapter load failed");
            }
            if (failure is null)
                continue;
            if (job.Done == 0)
                Interlocked.Decrement(ref queued);
            waiting.Remove(job);
            Complete(job);
            job.Completion.TrySetException(failure);
        }
    }

    private void Complete(ClassificationJob job)
    {
        if (job.HostAdapter is { } adapter)
        {
            adapters.UnpinHost(adapter);
            job.HostAdapter = null;
        }
        else
        {
            ReleaseHostLoad(job.HostLoad);
        }
    }

    private EngineStatus Snapshot(IReadOnlyList<GenerationSequence> running, IReadOnlyList<GenerationSequence> waiting)
    {
        var (deviceBytes, hostBytes) = adapters.Bytes;
        return new EngineStatus(
            WaitingRequests: Math.Max(0, Volatile.Read(ref queued)),
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
            DeviceAdapterBytes: deviceBytes,
            HostAdapterBytes: hostBytes);
    }
}
