using System.Collections.Concurrent;
using InferServer.AdapterStore.Peft;
using InferServer.Kernels.Attention;
using InferServer.Kernels.Sampling;
using InferServer.Engine.Models;
using InferServer.Engine.Tokenization;
using Microsoft.Extensions.Logging;

namespace InferServer.Engine;

/// <summary>
/// The generation mode (causal models): it owns the KV cache, its block allocator, the <see cref="GenerationScheduler"/>
/// and the step runner. One turn = take arrivals, reap, plan, run one step, stream tokens.
/// </summary>
internal sealed class GenerationMode : IEngineMode
{
    private readonly EngineOptions options;
    private readonly ICausalLanguageModel model;
    private readonly TextTokenizer tokenizer;
    private readonly IEngineAdapters adapters;
    private readonly EngineAdmission admission;
    private readonly EngineCounters counters;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly KvCache kvCache;
    private readonly KvBlockAllocator blocks;
    private readonly GenerationScheduler scheduler;
    private readonly CausalStepRunner runner;
    private readonly StructuredOutput structured;
    private readonly ConcurrentQueue<GenerationSequence> incomingGenerations = new();
    // Adapter copies that have run here (so may own cached KV blocks), by identity; dropped once the store disposes them.
    private readonly Dictionary<long, LoraAdapter> cachedCopies = [];
    private long nextId;
    // The step of the current turn, so that a turn that throws fails its rows only; null until one is planned.
    private List<StepItem>? step;

    public GenerationMode(EngineOptions options, ICausalLanguageModel model, TextTokenizer tokenizer, IEngineAdapters adapters,
        string servedName, EngineAdmission admission, EngineCounters counters, ILogger logger, TimeProvider time)
    {
        if (model.Shape.PromptDependentRotary && options.PrefixCaching)
        {
            // LongRoPE's keys depend on the prompt's length, not only on the prefix: a block cached under a long prompt
            // would be wrong for a short one with the same first tokens.
            InferenceEngine.Log.PrefixCachingOff(logger);
            options = options with { PrefixCaching = false };
        }

        this.options = options;
        this.model = model;
        this.tokenizer = tokenizer;
        this.adapters = adapters;
        this.admission = admission;
        this.counters = counters;
        this.logger = logger;
        this.time = time;
        var shape = model.Shape;
        var maxContext = options.MaxContextTokens > 0 ? Math.Min(options.MaxContextTokens, shape.MaxPositions) : shape.MaxPositions;
        var eosEndsGeneration = tokenizer.EosToken is { } eos && tokenizer.TokenToId(eos) is { } eosId && tokenizer.EosTokenIds.Contains(eosId);
        Model = new EngineModelInfo(servedName, model.ModelType, ModelKind.TextGeneration, maxContext, tokenizer.ChatTemplate, [],
            tokenizer.BosToken, tokenizer.EosToken, eosEndsGeneration);
        var bytesPerSlot = KvCache.BytesPerTokenSlot(shape.Layers, shape.KvHeads, shape.HeadDimension, model.DType);
        // No sequence can use more than the context limit, so a budget beyond rows × context would sit idle.
        var usefulSlots = (long)options.MaxBatchRows * (maxContext + options.KvBlockSize);
        var slots = Math.Min(options.KvCacheBytes / bytesPerSlot, usefulSlots) / options.KvBlockSize * options.KvBlockSize;
        if (slots < maxContext)
        {
            throw new ArgumentException($"Engine:KvCacheBytes {options.KvCacheBytes} holds {slots} tokens, fewer than one full context of {maxContext}");
        }

        kvCache = new KvCache(shape.Layers, slots, shape.KvHeads, shape.HeadDimension, model.DType, model.Device);
        blocks = new KvBlockAllocator(slots, options.KvBlockSize);
        scheduler = new GenerationScheduler(options, blocks, adapters, time);
        var allowedVocabulary = Math.Min(tokenizer.VocabularySize, shape.VocabularySize);
        structured = new StructuredOutput(tokenizer, allowedVocabulary);
        runner = new CausalStepRunner(model, kvCache, blocks, structured, options.BatchInvariant);
    }

    public EngineModelInfo Model { get; }

    public ModeLoad Load => new(scheduler.Running.Count, scheduler.Running.Select(s => s.Adapter),
        scheduler.Waiting.Select(s => s.Adapter), blocks.Usage, blocks.BlocksInUse, kvCache.Bytes)
    { KvBlocksCached = blocks.CachedBlocks };

    public GenerationSequence Submit(GenerationRequest request)
    {
        if (request.MaxNewTokens < 1 || request.MaxNewTokens > options.MaxNewTokensLimit)
        {
            throw new RequestValidationException("max_new_tokens", $"must be between 1 and {options.MaxNewTokensLimit}, got {request.MaxNewTokens}");
        }

        var samplingProblems = request.Sampling.Validate();
        if (samplingProblems.Count > 0)
        {
            throw new RequestValidationException("sampling", string.Join("; ", samplingProblems));
        }

        for (var i = 0; i < request.StopTokenIds.Count; i++)
        {
            // An id the model cannot produce would never stop anything: the request would silently run to its limit. The
            // sampler draws only below the tokenizer's vocabulary too (a head padded beyond it, as Qwen's and Phi's are).
            if (request.StopTokenIds[i] < 0 || request.StopTokenIds[i] >= structured.Vocabulary)
            {
                throw new RequestValidationException("stop_token_ids",
                    $"stop token {i} (id {request.StopTokenIds[i]}) is outside the model's vocabulary [0, {structured.Vocabulary})");
            }
        }

        var prompt = Tokenize(request);
        if (prompt.Count + 1 > Model.MaxContextTokens)
        {
            throw new RequestValidationException("prompt", $"{prompt.Count} tokens leave no room to generate within the context limit of {Model.MaxContextTokens}");
        }

        if (request.Grammar is not null)
        {
            structured.Prepare();
        }

        var sequence = new GenerationSequence(Interlocked.Increment(ref nextId), request, prompt, tokenizer, Model.MaxContextTokens, time.GetUtcNow());
        if (sequence.Adapter is not null)
        {
            adapters.EnsureRegistered(sequence.Adapter);
        }

        sequence.Place = admission.TakePlace();
        try
        {
            if (sequence.Adapter is not null)
            {
                sequence.Hold = admission.Hold(sequence.Adapter);
                sequence.AwaitingLoad = sequence.Hold.IsPending;
            }
            admission.Enqueue(() => incomingGenerations.Enqueue(sequence));
        }
        catch
        {
            sequence.ReleaseClaims();
            throw;
        }
        return sequence;
    }

    public ClassificationJob Submit(ClassificationRequest request) => throw new ModelCapabilityException(request.Output == EncoderOutput.Embedding
        ? $"the served model '{Model.ServedName}' ({Model.ModelType}) generates text; Embed needs an encoder model"
        : $"the served model '{Model.ServedName}' ({Model.ModelType}) generates text; it has no classification head");

    public void FailTurn(Exception error) =>
        FailSequences(step?.Select(item => item.Sequence) ?? scheduler.Running.Concat(scheduler.Waiting),
            new EngineFailedException("the engine failed while running this request; see the server log", error));

    public void EndAll(Exception error)
    {
        FailSequences(scheduler.Running.Concat(scheduler.Waiting), error);
        try
        {
            adapters.PrepareMerged(null);
        }
        catch (Exception e)
        {
            InferenceEngine.Log.TurnFailed(logger, 0, e);
        }
    }

    public void RefuseArrivals(Exception error)
    {
        while (incomingGenerations.TryDequeue(out var sequence))
        {
            sequence.ReleaseClaims();
            sequence.Fail(error);
        }
    }

    /// <summary>Frees the KV cache and then the model; the loop has ended.</summary>
    public void Dispose()
    {
        kvCache.Dispose();
        model.Dispose();
    }

    private IReadOnlyList<int> Tokenize(GenerationRequest request)
    {
        var vocabulary = model.Shape.VocabularySize;
        if ((request.PromptText is null) == (request.PromptTokenIds is null))
        {
            throw new RequestValidationException("prompt", "give exactly one of prompt text and prompt token ids");
        }

        var field = request.PromptTokenIds is null ? "prompt" : "prompt_token_ids";
        var tokens = request.PromptTokenIds ?? tokenizer.Encode(request.PromptText!, request.AddSpecialTokens);
        if (tokens.Count == 0)
        {
            throw new RequestValidationException(field, "the prompt has no tokens");
        }

        for (var i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] < 0 || tokens[i] >= vocabulary)
            {
                throw new RequestValidationException(field, $"token {i} (id {tokens[i]}) is outside the model's vocabulary [0, {vocabulary})");
            }
        }

        return tokens;
    }

    public TurnOutcome Turn()
    {
        step = null;
        while (incomingGenerations.TryDequeue(out var arrived))
        {
            scheduler.Enqueue(arrived);
        }

        Reap();
        adapters.FreeRetired();
        ForgetReleasedAdapterCopies();
        var items = scheduler.Plan();
        foreach (var (sequence, error) in scheduler.TakeRefused())
        {
            InferenceEngine.Log.AdmissionFailed(logger, sequence.Adapter ?? "", error);
            sequence.Fail(new EngineFailedException("the server could not prepare this request's adapter; see the server log", error));
        }
        if (items.Count == 0)
        {
            return TurnOutcome.Idle;
        }

        step = items;
        foreach (var item in items)
        {
            if (item.Sequence.HostAdapter is { } copy)
            {
                cachedCopies.TryAdd(copy.InstanceId, copy);
            }
        }
        var merged = PrepareMerged(items);
        SampledToken?[] sampled;
        try
        {
            sampled = runner.Run(items, merged);
        }
        catch (Exception e)
        {
            // A step that fails (a libtorch error on one odd input, memory running out) fails the requests in it, not the server.
            InferenceEngine.Log.StepFailed(logger, items.Count, e);
            FailSequences(items.Select(item => item.Sequence),
                new EngineFailedException("the model step running this request failed; see the server log", e));
            return TurnOutcome.Failed(e);
        }
        counters.StepRan(items.Count);
        var now = time.GetUtcNow();
        for (var i = 0; i < items.Count; i++)
        {
            try
            {
                Commit(items[i], sampled[i], merged, now);
            }
            catch (Exception e)
            {
                InferenceEngine.Log.StepFailed(logger, 1, e);
                FailSequences([items[i].Sequence], new EngineFailedException("streaming this request's output failed; see the server log", e));
            }
        }
        return TurnOutcome.Stepped;
    }

    /// <summary>Records a step's progress for one sequence and streams its sampled token, finishing it when done.</summary>
    private void Commit(StepItem item, SampledToken? sampled, bool merged, DateTimeOffset now)
    {
        var sequence = item.Sequence;
        counters.PromptTokens(Math.Max(0, Math.Min(item.Start + item.Count, sequence.PromptLength) - item.Start));
        sequence.ComputedTokens = item.Start + item.Count;
        scheduler.RegisterComputedBlocks(sequence); // before Accept, which may end it and release its blocks
        if (merged && sequence.ServedFrom == AdapterServedFrom.Device)
        {
            sequence.ServedFrom = AdapterServedFrom.Merged;
        }

        if (sampled is not { } token)
        {
            return;
        }

        counters.TokenGenerated();
        sequence.FirstToken ??= now;
        if (sequence.Accept(token) is { } reason)
        {
            scheduler.Remove(sequence);
            sequence.Finish(reason, now);
        }
    }

    /// <summary>Removes cancelled, expired, failed-to-load and load-timed-out sequences; times finished loads.</summary>
    private void Reap()
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
            {
                failure = pinFailure;
            }

            if (failure is null && sequence.AwaitingLoad && sequence.Hold is { IsPending: false })
            {
                sequence.AwaitingLoad = false;
                sequence.AdapterLoad = now - sequence.Submitted;
            }
            if (failure is null && sequence.AwaitingLoad && now - sequence.Submitted >= options.AdapterLoadTimeout)
            {
                failure = new AdapterLoadTimeoutException(sequence.Adapter!, options.AdapterLoadTimeout);
            }

            if (failure is not null)
            {
                FailSequences([sequence], failure);
            }
        }
    }

    /// <summary>
    /// Frees the cached KV blocks of adapter copies the store has let go (unloaded, replaced by a reload, or evicted
    /// from host memory): no request can name them again, since a re-read is a new copy with a new identity.
    /// </summary>
    private void ForgetReleasedAdapterCopies()
    {
        foreach (var (identity, copy) in cachedCopies)
        {
            if (copy.IsDisposed)
            {
                blocks.Forget(identity);
                cachedCopies.Remove(identity);
            }
        }
    }

    /// <summary>
    /// Uses the merge cache when every row of the step runs the same adapter; a merge that fails falls back to the slots.
    /// Never in batch-invariant mode: a merged weight rounds differently from the LoRA path, so a request's answer would
    /// depend on whether its steps happened to hold only its adapter.
    /// </summary>
    private bool PrepareMerged(List<StepItem> items)
    {
        var first = items[0].Sequence.HostAdapter;
        var single = first is not null && !options.BatchInvariant && items.All(i => ReferenceEquals(i.Sequence.HostAdapter, first));
        try
        {
            return adapters.PrepareMerged(single ? first : null);
        }
        catch (Exception e) when (single)
        {
            // Merging is an optimisation: out of memory for the merged copy, the step runs on the LoRA path instead.
            InferenceEngine.Log.MergeFailed(logger, first!.Name, e);
            return adapters.PrepareMerged(null);
        }
    }

    /// <summary>Ends <paramref name="sequences"/> with <paramref name="error"/>, releasing everything each one holds.</summary>
    private void FailSequences(IEnumerable<GenerationSequence> sequences, Exception error)
    {
        foreach (var sequence in sequences.ToArray())
        {
            try
            {
                scheduler.Remove(sequence);
            }
            catch (Exception e)
            {
                InferenceEngine.Log.ReleaseFailed(logger, e);
            }
            finally
            {
                sequence.ReleaseClaims();
                sequence.Fail(error);
            }
        }
    }
}
