using InferServer.AdapterStore.Peft;
using InferServer.Engine.Models;

namespace InferServer.Engine;

/// <summary>The classification loop (encoder models): one turn = take arrivals, reap, plan rows, run one step, complete jobs.</summary>
public sealed partial class InferenceEngine
{
    private void RunClassification(ISequenceClassifier classifier)
    {
        var runner = new ClassificationStepRunner(classifier);
        var waiting = new List<ClassificationJob>();
        List<ClassificationJob>? step = null;
        try
        {
            Supervise(
                () =>
                {
                    step = null;
                    ClassificationTurn(runner, waiting, planned => step = planned);
                },
                error => FailJobs(waiting, step ?? waiting, new EngineFailedException("the engine failed while classifying; see the server log", error)));
        }
        finally
        {
            FailJobs(waiting, waiting, fault is null && stopRequested ? new EngineStoppedException() : EngineStoppedException.Faulted());
        }
    }

    private void ClassificationTurn(ClassificationStepRunner runner, List<ClassificationJob> waiting, Action<List<ClassificationJob>> planned)
    {
        while (incomingClassifications.TryDequeue(out var arrived))
            waiting.Add(arrived);
        ReapClassifications(waiting);
        adapters.FreeRetired();
        var rows = PlanClassification(waiting, out var slots);
        if (rows.Count == 0)
        {
            status = Snapshot([], [], adapters.Residency);
            wake.WaitOne(IdleWait);
            return;
        }
        var jobs = rows.Select(r => r.Job).Distinct().ToList();
        planned(jobs);
        try
        {
            runner.Run(rows);
        }
        catch (Exception e)
        {
            Log.StepFailed(logger, rows.Count, e);
            FailJobs(waiting, jobs, new EngineFailedException("the model step classifying these texts failed; see the server log", e));
            CountFailure(e);
            return;
        }
        finally
        {
            foreach (var slot in slots)
                adapters.ReleaseSlot(slot);
        }
        Interlocked.Increment(ref steps);
        Interlocked.Add(ref rowsProcessed, rows.Count);
        Interlocked.Add(ref promptTokensProcessed, rows.Sum(r => r.Job.Texts[r.TextIndex].Length));
        foreach (var job in jobs)
        {
            job.Done = job.Results.Count(r => r is not null);
            if (job.Done < job.Texts.Count)
                continue;
            if (!job.Results.All(r => r!.IsFinite))
            {
                FailJobs(waiting, [job], new NonFiniteOutputException(job.Adapter));
                continue;
            }
            waiting.Remove(job);
            job.ReleaseClaims();
            job.Completion.TrySetResult(new ClassificationResult(job.Results.Select(r => r!).ToArray(), job.ServedFrom));
        }
        status = Snapshot([], [], adapters.Residency);
    }

    private List<ClassificationStepRunner.Row> PlanClassification(List<ClassificationJob> waiting, out List<int> slots)
    {
        var rows = new List<ClassificationStepRunner.Row>();
        slots = [];
        var tokens = 0;
        var slotsByAdapter = new Dictionary<LoraAdapter, int>(ReferenceEqualityComparer.Instance);
        foreach (var job in waiting.ToArray())
        {
            var slot = 0;
            if (job.Adapter is not null)
            {
                if (job.HostAdapter is not { } adapter)
                    continue; // still loading: it blocks nobody
                if (job.Request.Output == EncoderOutput.Labels && adapter.Classifier is null && !((ISequenceClassifier)model).HasBaseClassifier)
                {
                    FailJobs(waiting, [job], new ModelCapabilityException(
                        $"adapter '{job.Adapter}' brings no classification head and the served model '{Model.ServedName}' has none; use Embed, or an adapter trained with a head"));
                    continue;
                }
                if (!slotsByAdapter.TryGetValue(adapter, out slot))
                {
                    bool writtenNow;
                    try
                    {
                        if (!adapters.TryAcquireSlot(adapter, out slot, out writtenNow))
                            continue;
                    }
                    catch (Exception e)
                    {
                        Log.AdmissionFailed(logger, job.Adapter, e);
                        FailJobs(waiting, [job], new EngineFailedException("the server could not prepare this request's adapter; see the server log", e));
                        continue;
                    }
                    slotsByAdapter[adapter] = slot;
                    slots.Add(slot);
                    if (job.ServedFrom == AdapterServedFrom.Base)
                        job.ServedFrom = writtenNow ? AdapterServedFrom.Loaded : AdapterServedFrom.Device;
                }
            }
            for (var text = job.Done; text < job.Texts.Count; text++)
            {
                var length = job.Texts[text].Length;
                if (rows.Count >= options.MaxBatchRows || (rows.Count > 0 && tokens + length > options.EncoderMaxBatchTokens))
                    return rows;
                rows.Add(new ClassificationStepRunner.Row(job, text, slot));
                job.Place?.Release(); // scheduled: it no longer counts against the queue bound (idempotent)
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
                : job.Hold?.Failure;
            if (failure is null && job.Hold is { IsPending: true } && now - job.Submitted >= options.AdapterLoadTimeout)
                failure = new AdapterLoadTimeoutException(job.Adapter!, options.AdapterLoadTimeout);
            if (failure is not null)
                FailJobs(waiting, [job], failure);
        }
    }

    /// <summary>Ends <paramref name="jobs"/> with <paramref name="error"/>, releasing each one's place and pin.</summary>
    private static void FailJobs(List<ClassificationJob> waiting, IEnumerable<ClassificationJob> jobs, Exception error)
    {
        foreach (var job in jobs.ToArray())
        {
            waiting.Remove(job);
            job.ReleaseClaims();
            job.Completion.TrySetException(error);
        }
    }
}
