namespace InferServer.Engine;

/// <summary>
/// Decides, before every step, which sequences run and how many of their tokens (iteration-level scheduling as in
/// Orca and vLLM). Running sequences go first, so decodes are never starved by prompts; prompts are chunked to the
/// step's token budget; new requests are admitted oldest first when their adapter is in host memory, a device slot
/// can be pinned for it, and the KV cache has room. Fairness: a request that has waited longer than the priority bound
/// blocks admissions behind it, so the slots and blocks freed by finishing requests go to it rather than to a stream
/// of requests for popular adapters; a request whose adapter is still loading does not (it could not use them, and a
/// hung load must not stall everyone else). Out of KV blocks mid-decode, the newest running sequence is preempted and
/// later recomputed (vLLM's recompute preemption), so the cache never overflows. Engine thread only.
/// </summary>
/// <remarks>
/// Ownership: a sequence's KV blocks and device slot pin are released by <see cref="ReleaseDeviceResources"/> (which
/// leaves nothing to release twice), its queue place and host pin by <see cref="GenerationSequence.ReleaseClaims"/>
/// (idempotent). <see cref="Remove"/> does both, and is the one exit for every path: finish, cancel, deadline, failure,
/// shutdown.
/// </remarks>
internal sealed class GenerationScheduler(EngineOptions options, KvBlockAllocator blocks, IEngineAdapters adapters, TimeProvider time)
{
    private readonly List<GenerationSequence> waiting = [];
    private readonly List<GenerationSequence> running = [];
    private readonly List<(GenerationSequence Sequence, Exception Error)> refused = [];

    public IReadOnlyList<GenerationSequence> Waiting => waiting;

    public IReadOnlyList<GenerationSequence> Running => running;

    /// <summary>A new request joins the back of the queue.</summary>
    public void Enqueue(GenerationSequence sequence) => waiting.Add(sequence);

    /// <summary>Removes a sequence wherever it is and gives back its KV blocks, slot, queue place and host pin.</summary>
    public void Remove(GenerationSequence sequence)
    {
        waiting.Remove(sequence);
        running.Remove(sequence);
        ReleaseDeviceResources(sequence);
        sequence.ReleaseClaims();
    }

    /// <summary>
    /// Sequences the last <see cref="Plan"/> could not admit because preparing their adapter failed (a slot write that
    /// threw, an adapter that does not fit the pools); already removed. The caller fails them; nobody else is affected.
    /// </summary>
    public List<(GenerationSequence Sequence, Exception Error)> TakeRefused()
    {
        var taken = refused.ToList();
        refused.Clear();
        return taken;
    }

    /// <summary>Plans the next step; empty when nothing can run now.</summary>
    public List<StepItem> Plan()
    {
        var items = new List<StepItem>();
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
                {
                    break;
                }
            }
            if (!running.Contains(sequence))
            {
                break;
            }

            items.Add(new StepItem(sequence, sequence.ComputedTokens, count));
            tokenBudget -= count;
            rowBudget--;
        }

        var now = time.GetUtcNow();
        for (var i = 0; i < waiting.Count && rowBudget > 0 && tokenBudget > 0; i++)
        {
            var sequence = waiting[i];
            StepItem? item;
            try
            {
                item = TryAdmit(sequence, tokenBudget);
            }
            catch (Exception e)
            {
                Remove(sequence);
                i--;
                refused.Add((sequence, e));
                continue;
            }
            if (item is null)
            {
                // Only a request that could run (its adapter in host memory) may hold the others back.
                var overdue = now - sequence.Submitted >= options.MaxQueueWaitBeforePriority;
                if (overdue && (sequence.Adapter is null || sequence.HostAdapter is not null))
                {
                    break;
                }

                continue;
            }
            waiting.RemoveAt(i--);
            running.Add(sequence);
            if (sequence.FirstScheduled is null)
            {
                sequence.FirstScheduled = now;
                sequence.Place?.Release();
                if (sequence.Adapter is not null)
                {
                    adapters.RecordRequest(sequence.Adapter); // once per request, however often it waits or is preempted
                }
            }
            items.Add(item);
            tokenBudget -= item.Count;
            rowBudget--;
        }
        return items;
    }

    /// <summary>The step item for an admitted sequence (KV blocks and slot pinned), or null when it must wait.</summary>
    private StepItem? TryAdmit(GenerationSequence sequence, int tokenBudget)
    {
        if (sequence.Adapter is not null && sequence.HostAdapter is null)
        {
            return null;
        }
        // KV blocks first: they cost nothing to take back, while a slot may have to be written.
        ReuseCachedPrefix(sequence);
        var count = Math.Min(sequence.Tokens.Count - sequence.ComputedTokens, tokenBudget);
        if (!blocks.TryEnsureCapacity(sequence.Blocks, sequence.ComputedTokens + count))
        {
            ReleaseBlocks(sequence);
            return null;
        }

        if (sequence.HostAdapter is { } adapter && !sequence.HoldsSlot)
        {
            bool acquired;
            int slot;
            bool writtenNow;
            try
            {
                acquired = adapters.TryAcquireSlot(adapter, out slot, out writtenNow);
            }
            catch
            {
                ReleaseBlocks(sequence);
                throw;
            }
            if (!acquired)
            {
                ReleaseBlocks(sequence);
                return null;
            }
            sequence.AdapterSlot = slot;
            sequence.HoldsSlot = true;
            if (sequence.ServedFrom == AdapterServedFrom.Base)
            {
                sequence.ServedFrom = writtenNow || sequence.AdapterLoad > TimeSpan.Zero ? AdapterServedFrom.Loaded : AdapterServedFrom.Device;
            }
        }
        return new StepItem(sequence, sequence.ComputedTokens, count);
    }

    /// <summary>Frees a running sequence's cache and slot and puts it at the front of the queue to be recomputed.</summary>
    private void Preempt(GenerationSequence sequence)
    {
        running.Remove(sequence);
        ReleaseDeviceResources(sequence);
        waiting.Insert(0, sequence);
    }

    /// <summary>
    /// Prefix caching: a sequence about to be admitted starts on the longest chain of cached blocks of its adapter copy
    /// that its tokens begin with, and computes only the rest. At least one token is always left to compute, so the
    /// step that finishes its prefill has logits to sample from.
    /// </summary>
    private void ReuseCachedPrefix(GenerationSequence sequence)
    {
        if (!options.PrefixCaching || sequence.Blocks.Count > 0)
        {
            return;
        }

        var reusable = (sequence.Tokens.Count - 1) / blocks.BlockSize;
        sequence.ChainHash = blocks.Reuse(sequence.CacheIdentity, sequence.Tokens, reusable, sequence.Blocks);
        sequence.HashedBlocks = sequence.Blocks.Count;
        sequence.ComputedTokens = sequence.Blocks.Count * blocks.BlockSize;
        if (sequence.FirstScheduled is null)
        {
            sequence.CachedPromptTokens = Math.Min(sequence.ComputedTokens, sequence.PromptLength);
        }
    }

    /// <summary>
    /// Prefix caching: registers the blocks a step just filled, so later requests (and this one, if preempted) can
    /// reuse them. Called after every successful step for each of its sequences.
    /// </summary>
    public void RegisterComputedBlocks(GenerationSequence sequence)
    {
        if (!options.PrefixCaching)
        {
            return;
        }

        var full = Math.Min(sequence.ComputedTokens / blocks.BlockSize, sequence.Blocks.Count);
        if (full > sequence.HashedBlocks)
        {
            sequence.ChainHash = blocks.Register(sequence.CacheIdentity, sequence.Tokens, sequence.Blocks, sequence.HashedBlocks, full,
                sequence.ChainHash);
            sequence.HashedBlocks = full;
        }
    }

    /// <summary>Gives back a sequence's KV blocks (cached ones stay findable) and forgets its progress.</summary>
    private void ReleaseBlocks(GenerationSequence sequence)
    {
        blocks.Release(sequence.Blocks);
        sequence.ComputedTokens = 0;
        sequence.HashedBlocks = 0;
        sequence.ChainHash = PrefixBlockKey.Root;
    }

    private void ReleaseDeviceResources(GenerationSequence sequence)
    {
        ReleaseBlocks(sequence);
        if (sequence.HoldsSlot)
        {
            sequence.HoldsSlot = false;
            var slot = sequence.AdapterSlot;
            sequence.AdapterSlot = 0;
            adapters.ReleaseSlot(slot);
        }
    }
}
