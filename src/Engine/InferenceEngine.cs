using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using InferServer.Kernels.Attention;
using InferServer.Engine.Models;
using InferServer.Engine.Tokenization;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace InferServer.Engine;

/// <summary>
/// The serving engine: one dedicated thread owns the model, the KV cache and the adapter slots, and runs one batched
/// step after another (continuous batching). Callers on any thread submit requests through a bounded queue and read
/// results from per-request channels; they never touch a tensor. See docs/architecture.md.
/// </summary>
public sealed partial class InferenceEngine : IInferenceEngine, IAsyncDisposable
{
    private readonly EngineOptions options;
    private readonly IBaseModel model;
    private readonly TextTokenizer tokenizer;
    private readonly IEngineAdapters adapters;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly KvCache? kvCache;
    private readonly KvBlockAllocator? blocks;
    private readonly ConcurrentQueue<GenerationSequence> incomingGenerations = new();
    private readonly ConcurrentQueue<ClassificationJob> incomingClassifications = new();
    private readonly AutoResetEvent wake = new(false);
    private readonly Thread thread;
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly IDisposable? ownedResources;
    private readonly AdmissionQueue queue;
    // Guards accepting and closed, so that a request is either enqueued before the loop's final drain or refused.
    private readonly Lock admission = new();
    private long nextId;
    private bool accepting = true;
    private bool closed;
    private volatile bool stopRequested;
    private volatile EngineStatus status;
    private volatile Exception? fault;
    private long heartbeatTicks;
    private int disposed;
    private long steps, rowsProcessed, promptTokensProcessed, tokensGenerated;

    /// <summary>
    /// Starts an engine over a loaded model. <paramref name="ownedResources"/> (e.g. the adapter store) is disposed with
    /// the engine, after the model.
    /// </summary>
    public InferenceEngine(EngineOptions options, IBaseModel model, TextTokenizer tokenizer, IEngineAdapters adapters,
        string servedName, ILogger logger, TimeProvider time, IDisposable? ownedResources = null)
    {
        this.options = options;
        this.model = model;
        this.tokenizer = tokenizer;
        this.adapters = adapters;
        this.logger = logger;
        this.time = time;
        this.ownedResources = ownedResources;
        queue = new AdmissionQueue(options.MaxQueuedRequests);
        if (model is ICausalLanguageModel causal)
        {
            var shape = causal.Shape;
            var maxContext = options.MaxContextTokens > 0 ? Math.Min(options.MaxContextTokens, shape.MaxPositions) : shape.MaxPositions;
            var eosEndsGeneration = tokenizer.EosToken is { } eos && tokenizer.TokenToId(eos) is { } eosId && tokenizer.EosTokenIds.Contains(eosId);
            Model = new EngineModelInfo(servedName, model.ModelType, ModelKind.TextGeneration, maxContext, tokenizer.ChatTemplate, [],
                tokenizer.BosToken, tokenizer.EosToken, eosEndsGeneration);
            var bytesPerSlot = KvCache.BytesPerTokenSlot(shape.Layers, shape.KvHeads, shape.HeadDimension, model.DType);
            // No sequence can use more than the context limit, so a budget beyond rows × context would sit idle.
            var usefulSlots = (long)options.MaxBatchRows * (maxContext + options.KvBlockSize);
            var slots = Math.Min(options.KvCacheBytes / bytesPerSlot, usefulSlots) / options.KvBlockSize * options.KvBlockSize;
            if (slots < maxContext)
                throw new ArgumentException($"Engine:KvCacheBytes {options.KvCacheBytes} holds {slots} tokens, fewer than one full context of {maxContext}");
            kvCache = new KvCache(shape.Layers, slots, shape.KvHeads, shape.HeadDimension, model.DType, model.Device);
            blocks = new KvBlockAllocator(slots, options.KvBlockSize);
        }
        else if (model is ISequenceClassifier classifier)
        {
            var maxContext = options.MaxContextTokens > 0 ? Math.Min(options.MaxContextTokens, classifier.MaxPositions) : classifier.MaxPositions;
            Model = new EngineModelInfo(servedName, model.ModelType, ModelKind.Classification, maxContext, null, classifier.Labels);
        }
        else
        {
            throw new ArgumentException($"model type {model.GetType().Name} is neither a causal LM nor a classifier");
        }
        status = Snapshot([], [], AdapterResidency.None);
        Beat();
        thread = new Thread(RunLoop) { IsBackground = true, Name = "InferServer engine" };
        thread.Start();
    }

    /// <inheritdoc />
    public EngineModelInfo Model { get; }

    /// <inheritdoc />
    public EngineStatus Status => status;

    /// <inheritdoc />
    public Exception? Fault => fault;

    /// <inheritdoc />
    public DateTimeOffset? Heartbeat => new(Interlocked.Read(ref heartbeatTicks), TimeSpan.Zero);

    /// <inheritdoc/>
    public ReadOnlyMemory<byte> TokenBytes(int tokenId) => tokenizer.TokenBytes(tokenId);

    /// <inheritdoc />
    public async IAsyncEnumerable<GenerationEvent> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var sequence = Submit(request);
        using var registration = cancellationToken.Register(() =>
        {
            sequence.Cancel();
            wake.Set();
        });
        var completed = false;
        try
        {
            await foreach (var update in sequence.Output.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                completed = update is GenerationFinished;
                yield return update;
            }
        }
        finally
        {
            // A caller that stops reading early (break, dispose) frees the sequence's resources at the next step.
            if (!completed)
            {
                sequence.Cancel();
                wake.Set();
            }
        }
    }

    /// <inheritdoc />
    public async Task<ClassificationResult> ClassifyAsync(ClassificationRequest request, CancellationToken cancellationToken = default)
    {
        if (Model.Kind != ModelKind.Classification)
            throw new ModelCapabilityException($"the served model '{Model.ServedName}' ({Model.ModelType}) generates text; it has no classification head");
        if (request.Texts.Count == 0)
            throw new RequestValidationException("texts", "at least one text is required");
        if (request.Output == EncoderOutput.Labels && string.IsNullOrEmpty(request.Adapter) && !((ISequenceClassifier)model).HasBaseClassifier)
            throw new ModelCapabilityException($"the served model '{Model.ServedName}' is an encoder without a classification head; name an adapter with one, or use Embed");
        var texts = new int[request.Texts.Count][];
        for (var i = 0; i < texts.Length; i++)
        {
            texts[i] = [.. tokenizer.Encode(request.Texts[i], addSpecialTokens: true)];
            if (texts[i].Length > Model.MaxContextTokens)
                throw new RequestValidationException($"texts[{i}]", $"{texts[i].Length} tokens exceed the model's limit of {Model.MaxContextTokens}");
            if (texts[i].Length == 0)
                throw new RequestValidationException($"texts[{i}]", "the text has no tokens");
        }
        var job = new ClassificationJob(request, texts, time.GetUtcNow());
        if (job.Adapter is not null)
            adapters.EnsureRegistered(job.Adapter);
        job.Place = TakePlace();
        try
        {
            if (job.Adapter is not null)
                job.Hold = Hold(job.Adapter);
            Enqueue(() => incomingClassifications.Enqueue(job));
        }
        catch
        {
            job.ReleaseClaims();
            throw;
        }
        using var registration = cancellationToken.Register(() =>
        {
            job.Cancel();
            wake.Set();
        });
        return await job.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken = default)
    {
        if (Model.Kind != ModelKind.Classification)
            throw new ModelCapabilityException($"the served model '{Model.ServedName}' ({Model.ModelType}) generates text; Embed needs an encoder model");
        // Embed rides Classify's job path (same limits, batching, adapter pins); only the step's output differs.
        var result = await ClassifyAsync(new ClassificationRequest(request.Adapter, request.Texts, request.Deadline)
            { Output = EncoderOutput.Embedding, Normalize = request.Normalize }, cancellationToken).ConfigureAwait(false);
        return new EmbeddingResult(result.Results.Select(r => new TextEmbedding(r.Embedding!, r.PromptTokens)).ToArray(), result.ServedFrom);
    }

    /// <summary>Stops admitting requests, lets queued and running ones finish within <paramref name="drainTimeout"/>, then stops.</summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        lock (admission)
            accepting = false;
        using var drain = new CancellationTokenSource(drainTimeout);
        try
        {
            while (!stopped.Task.IsCompleted && (queue.Count > 0 || status.RunningRequests > 0 || status.WaitingRequests > 0))
                await Task.Delay(TimeSpan.FromMilliseconds(20), time, drain.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Log.DrainTimedOut(logger, drainTimeout.TotalSeconds);
        }
        stopRequested = true;
        wake.Set();
        await stopped.Task.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        if (!stopRequested)
            await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        kvCache?.Dispose();
        model.Dispose();
        ownedResources?.Dispose();
        wake.Dispose();
    }

    private GenerationSequence Submit(GenerationRequest request)
    {
        if (Model.Kind != ModelKind.TextGeneration)
            throw new ModelCapabilityException($"the served model '{Model.ServedName}' ({Model.ModelType}) is a classifier; use Classify");
        if (request.MaxNewTokens < 1 || request.MaxNewTokens > options.MaxNewTokensLimit)
            throw new RequestValidationException("max_new_tokens", $"must be between 1 and {options.MaxNewTokensLimit}, got {request.MaxNewTokens}");
        var samplingProblems = request.Sampling.Validate();
        if (samplingProblems.Count > 0)
            throw new RequestValidationException("sampling", string.Join("; ", samplingProblems));
        var prompt = Tokenize(request);
        if (prompt.Count + 1 > Model.MaxContextTokens)
            throw new RequestValidationException("prompt", $"{prompt.Count} tokens leave no room to generate within the context limit of {Model.MaxContextTokens}");
        var sequence = new GenerationSequence(Interlocked.Increment(ref nextId), request, prompt, tokenizer, Model.MaxContextTokens, time.GetUtcNow());
        if (sequence.Adapter is not null)
            adapters.EnsureRegistered(sequence.Adapter);
        sequence.Place = TakePlace();
        try
        {
            if (sequence.Adapter is not null)
            {
                sequence.Hold = Hold(sequence.Adapter);
                sequence.AwaitingLoad = sequence.Hold.IsPending;
            }
            Enqueue(() => incomingGenerations.Enqueue(sequence));
        }
        catch
        {
            sequence.ReleaseClaims();
            throw;
        }
        return sequence;
    }

    private IReadOnlyList<int> Tokenize(GenerationRequest request)
    {
        var vocabulary = ((ICausalLanguageModel)model).Shape.VocabularySize;
        if ((request.PromptText is null) == (request.PromptTokenIds is null))
            throw new RequestValidationException("prompt", "give exactly one of prompt text and prompt token ids");
        var field = request.PromptTokenIds is null ? "prompt" : "prompt_token_ids";
        var tokens = request.PromptTokenIds ?? tokenizer.Encode(request.PromptText!, request.AddSpecialTokens);
        if (tokens.Count == 0)
            throw new RequestValidationException(field, "the prompt has no tokens");
        for (var i = 0; i < tokens.Count; i++)
            if (tokens[i] < 0 || tokens[i] >= vocabulary)
                throw new RequestValidationException(field, $"token {i} (id {tokens[i]}) is outside the model's vocabulary [0, {vocabulary})");
        return tokens;
    }

    /// <summary>Takes a place in the bounded queue or refuses at once; never buffers without bound.</summary>
    private AdmissionQueue.Place TakePlace()
    {
        lock (admission)
        {
            if (!accepting)
                throw new EngineStoppedException();
            return queue.TryEnter() ?? throw new QueueFullException(options.MaxQueuedRequests);
        }
    }

    /// <summary>Hands a request to the engine thread, unless the loop has already closed (then it is refused).</summary>
    private void Enqueue(Action enqueue)
    {
        lock (admission)
        {
            if (closed)
                throw new EngineStoppedException();
            enqueue();
        }
        wake.Set();
    }

    /// <summary>Starts pinning the adapter's host copy (loading it if needed) and wakes the engine when the load ends.</summary>
    private AdapterHold Hold(string adapter)
    {
        var hold = new AdapterHold(adapters.PinHostAsync(adapter, CancellationToken.None));
        if (hold.IsPending)
            _ = hold.Completion.ContinueWith(_ => wake.Set(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        return hold;
    }
}
