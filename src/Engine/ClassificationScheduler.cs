using InferServer.AdapterStore.Peft;

namespace InferServer.Engine;

/// <summary>
/// Decides, before every encoder step, which texts run: jobs oldest first and each job's texts in order, up to
/// Engine:MaxBatchRows rows and Engine:EncoderMaxBatchTokens tokens, so one job may span several steps and one step may
/// carry texts of several jobs. A job whose adapter is still loading blocks nobody; one whose adapter cannot get a
/// device slot now waits for a later step. Engine thread only.
/// </summary>
/// <remarks>
/// Ownership: a job's queue place and host pin are released by <see cref="Remove"/> (through the idempotent
/// <see cref="ClassificationJob.ReleaseClaims"/>), its queue place also as soon as its first text is scheduled. The
/// device slots a step pins are listed in <see cref="ClassificationStep.Slots"/>, for the caller to release once the
/// step has run, whatever happened in it: unlike a generation's KV blocks, nothing outlives one encoder step.
/// </remarks>
internal sealed class ClassificationScheduler(EngineOptions options, IEngineAdapters adapters)
{
    private readonly List<ClassificationJob> waiting = [];
    private readonly List<(ClassificationJob Job, Exception Error)> refused = [];

    /// <summary>Jobs with texts still to classify, oldest first.</summary>
    public IReadOnlyList<ClassificationJob> Waiting => waiting;

    /// <summary>A new job joins the back of the queue.</summary>
    public void Enqueue(ClassificationJob job) => waiting.Add(job);

    /// <summary>Removes a job and gives back its queue place and host pin.</summary>
    public void Remove(ClassificationJob job)
    {
        waiting.Remove(job);
        job.ReleaseClaims();
    }

    /// <summary>
    /// Jobs the last <see cref="Plan"/> could not admit because preparing their adapter failed (a slot write that threw,
    /// an adapter that does not fit the pools); already removed. The caller fails them; nobody else is affected.
    /// </summary>
    public List<(ClassificationJob Job, Exception Error)> TakeRefused()
    {
        var taken = refused.ToList();
        refused.Clear();
        return taken;
    }

    /// <summary>Plans the next step; no rows when nothing can run now.</summary>
    public ClassificationStep Plan()
    {
        var rows = new List<ClassificationStepRunner.Row>();
        var slots = new List<int>();
        var tokens = 0;
        var slotsByAdapter = new Dictionary<LoraAdapter, int>(ReferenceEqualityComparer.Instance);
        foreach (var job in waiting.ToArray())
        {
            var slot = 0;
            if (job.Adapter is not null)
            {
                if (job.HostAdapter is not { } adapter)
                {
                    continue; // still loading: it blocks nobody
                }

                if (!slotsByAdapter.TryGetValue(adapter, out slot))
                {
                    bool writtenNow;
                    try
                    {
                        if (!adapters.TryAcquireSlot(adapter, out slot, out writtenNow))
                        {
                            continue;
                        }
                    }
                    catch (Exception e)
                    {
                        Remove(job);
                        refused.Add((job, e));
                        continue;
                    }
                    slotsByAdapter[adapter] = slot;
                    slots.Add(slot);
                    if (job.ServedFrom == AdapterServedFrom.Base)
                    {
                        job.ServedFrom = writtenNow ? AdapterServedFrom.Loaded : AdapterServedFrom.Device;
                    }
                }
            }
            for (var text = job.Done; text < job.Texts.Count; text++)
            {
                var length = job.Texts[text].Length;
                if (rows.Count >= options.MaxBatchRows || (rows.Count > 0 && tokens + length > options.EncoderMaxBatchTokens))
                {
                    return new ClassificationStep(rows, slots);
                }

                rows.Add(new ClassificationStepRunner.Row(job, text, slot));
                job.Place?.Release(); // scheduled: it no longer counts against the queue bound (idempotent)
                tokens += length;
                job.Done = text + 1;
            }
        }
        return new ClassificationStep(rows, slots);
    }
}

/// <summary>One planned encoder step: its rows, and the device slots pinned for them (released after the step).</summary>
internal sealed record ClassificationStep(IReadOnlyList<ClassificationStepRunner.Row> Rows, IReadOnlyList<int> Slots);
