namespace InferServer.Server.Engine;

/// <summary>
/// Decides, before every step, which sequences run and how many of their tokens (iteration-level scheduling as in
/// Orca and vLLM). Running sequences go first, so decodes are never starved by prompts; prompts are chunked to the
/// step's token budget; new requests are admitted oldest first when their adapter is in host memory, a device slot
/// can be pinned for it, and the KV cache has room. Fairness: a request that has waited longer than the priority bound
/// blocks admissions behind it, so the slots and blocks freed by finishing requests go to it rather than to a stream
/// of requests for popular adapters. Out of KV blocks mid-decode, the newest running sequence is preempted and later
/// recomputed (vLLM's recompute preemption), so the cache never overflows. Engine thread only.
/// </summary>
internal sealed class GenerationScheduler(EngineOptions options, KvBlockAllocator blocks, IEngineAdapters adapters, TimeProvider time)
{
    private readonly List<GenerationSequence> waiting = [];
    private readonly List<GenerationSequence> running = [];

    public IReadOnlyList<GenerationSequence> Waiting => waiting;

    public IReadOnlyList<GenerationSequence> Running => running;

    /// <summary>Requests the last <see cref="Plan"/> scheduled for the first time (they left the bounded queue).</summary>
    public int FirstAdmissions { get; private set; }

    /// <summary>A new request joins the back of the queue.</summary>
    public void Enqueue(GenerationSequence sequence) => waiting.Add(sequence);

    /// <summary>Removes a sequence wherever it is and gives back its KV blocks, slot and host pin.</summary>
    public void Remove(GenerationSequence sequence)
    {
        waiting.Remove(sequence);
        running.Remove(sequence);
        ReleaseDeviceResources(sequence);
        if (sequence.HostAdapter is { } adapter)
        {
            adapters.UnpinHost(adapter);
            sequence.HostAdapter = null;
        }
    }

    /// <summary>Plans the next step; empty when nothing can run now.</summary>
    public List<StepItem> Plan()
    {
        var items = new List<StepItem>();
        FirstAdmissions = 0;
        var tokenBudget = options.MaxBatchTokens;
        var rowBudget = options.MaxBatchRows;

        for (var i = 0; i < running.Count && rowBudget > 0 && tokenBudget > 0; i++)
        {
            var sequence = running[i];
            var count = Math.Min(sequence.Tokens.Count - sequence.ComputedTokens, tokenBudget);
            while (!blocks.TryEnsureCapacity(sequence.Blocks, sequence.ComputedTokens + count))
            {
                var victim = running[^1];
                Preempt(victim);
                if (victim == sequence)
                    break;
            }
            if (!running.Contains(sequence))
                break;
            items.Add(new StepItem(sequence, sequence.ComputedTokens, count));
            tokenBudget -= count;
            rowBudget--;
        }

        var now = time.GetUtcNow();
        for (var i = 0; i < waiting.Count && rowBudget > 0 && tokenBudget > 0; i++)
        {
            var sequence = waiting[i];
            var overdue = now - sequence.Submitted >= options.MaxQueueWaitBeforePriority;
            if (!TryAdmit(sequence, tokenBudget, out var item))
            {
                if (overdue)
                    break;
                continue;
            }
            waiting.RemoveAt(i--);
            running.Add(sequence);
            if (sequence.FirstScheduled is null)
            {
                sequence.FirstScheduled = now;
                FirstAdmissions++;
            }
            items.Add(item);
            tokenBudget -= item.Count;
            rowBudget--;
        }
        return items;
    }

    private bool TryAdmit(GenerationSequence sequence, int tokenBudget, out StepItem item)
    {
        item = null!;
        if (sequence.Adapter is not null)
        {
            if (sequence.HostAdapter is null)
                return false;
            if (!sequence.HoldsSlot)
            {
                if (!adapters.TryAcquireSlot(sequence.HostAdapter, out var slot, out var writtenNow))
                    return false;
                sequence.AdapterSlot = slot;
                sequence.HoldsSlot = true;
                if (sequence.ServedFrom == AdapterServedFrom.Base)
                    sequence.ServedFrom = writtenNow || sequence.AdapterLoad > TimeSpan.Zero ? AdapterServedFrom.Loaded : AdapterServedFrom.Device;
                adapters.RecordRequest(sequence.Adapter);
            }
        }
        var count = Math.Min(sequence.Tokens.Count - sequence.ComputedTokens, tokenBudget);
        if (!blocks.TryEnsureCapacity(sequence.Blocks, sequence.ComputedTokens + count))
        {
            ReleaseDeviceResources(sequence);
            return false;
        }
        item = new StepItem(sequence, sequence.ComputedTokens, count);
        return true;
    }

    /// <summary>Frees a running sequence's cache and slot and puts it at the front of the queue to be recomputed.</summary>
    private void Preempt(GenerationSequence sequence)
    {
        running.Remove(sequence);
        ReleaseDeviceResources(sequence);
        sequence.ComputedTokens = 0;
        waiting.Insert(0, sequence);
    }

    private void ReleaseDeviceResources(GenerationSequence sequence)
    {
        blocks.Release(sequence.Blocks);
        if (sequence.HoldsSlot)
        {
            adapters.ReleaseSlot(sequence.AdapterSlot);
            sequence.HoldsSlot = false;
            sequence.AdapterSlot = 0;
        }
    }
}
