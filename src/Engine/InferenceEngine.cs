using System.Runtime.CompilerServices;
using InferServer.Engine.Models;
using InferServer.Engine.Tokenization;
using Microsoft.Extensions.Logging;

namespace InferServer.Engine;

/// <summary>
/// The serving engine: one dedicated thread owns the model, the KV cache and the adapter slots, and runs one batched
/// step after another (continuous batching). Callers on any thread submit requests through a bounded queue and read
/// results from per-request channels; they never touch a tensor. See docs/architecture.md.
/// </summary>
public sealed partial class InferenceEngine : IInferenceEngine, IAsyncDisposable
{
    private readonly TextTokenizer tokenizer;
    private readonly EngineAdmission admission;
    private readonly IEngineMode mode;
    private readonly EngineSupervisor supervisor;
    private readonly IDisposable? ownedResources;
    private int disposed;

    /// <summary>
    /// Starts an engine over a loaded model. <paramref name="ownedResources"/> (e.g. the adapter store) is disposed with
    /// the engine, after the model.
    /// </summary>
    public InferenceEngine(EngineOptions options, IBaseModel model, TextTokenizer tokenizer, IEngineAdapters adapters,
        string servedName, ILogger logger, TimeProvider time, IDisposable? ownedResources = null)
    {
        this.tokenizer = tokenizer;
        this.ownedResources = ownedResources;
        admission = new EngineAdmission(options, adapters);
        var counters = new EngineCounters();
        // The one place that asks what the model is: from here on, the engine talks to the mode it picked.
        mode = model switch
        {
            ICausalLanguageModel causal => new GenerationMode(options, causal, tokenizer, adapters, servedName, admission, counters, logger, time),
            ISequenceClassifier classifier => new ClassificationMode(options, classifier, tokenizer, adapters, servedName, admission, counters, logger, time),
            _ => throw new ArgumentException($"model type {model.GetType().Name} is neither a causal LM nor a classifier"),
        };
        supervisor = new EngineSupervisor(mode, admission, counters, adapters, options.TorchThreads, logger, time);
        supervisor.Start();
    }

    /// <inheritdoc />
    public EngineModelInfo Model => mode.Model;

    /// <inheritdoc />
    public EngineStatus Status => supervisor.Status;

    /// <inheritdoc />
    public Exception? Fault => supervisor.Fault;

    /// <inheritdoc />
    public DateTimeOffset? Heartbeat => supervisor.Heartbeat;

    /// <inheritdoc/>
    public ReadOnlyMemory<byte> TokenBytes(int tokenId) => tokenizer.TokenBytes(tokenId);

    /// <inheritdoc/>
    public IReadOnlyList<int> Tokenize(string text, bool addSpecialTokens) => tokenizer.Encode(text, addSpecialTokens);

    /// <inheritdoc/>
    public string Detokenize(IReadOnlyList<int> tokenIds)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        for (var i = 0; i < tokenIds.Count; i++)
        {
            if (!tokenizer.HasToken(tokenIds[i]))
            {
                throw new RequestValidationException($"tokens[{i}]", $"id {tokenIds[i]} is not in the tokenizer's vocabulary of {tokenizer.VocabularySize} ids");
            }
        }
        return tokenizer.Decode(tokenIds, skipSpecialTokens: false);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<GenerationEvent> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var sequence = mode.Submit(request);
        using var registration = cancellationToken.Register(() =>
        {
            sequence.Cancel();
            admission.Wake();
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
                admission.Wake();
            }
        }
    }

    /// <inheritdoc />
    public async Task<ClassificationResult> ClassifyAsync(ClassificationRequest request, CancellationToken cancellationToken = default)
    {
        var job = mode.Submit(request);
        using var registration = cancellationToken.Register(() =>
        {
            job.Cancel();
            admission.Wake();
        });
        return await job.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken = default)
    {
        // Embed rides Classify's job path (same limits, batching, adapter pins); only the step's output differs.
        var result = await ClassifyAsync(new ClassificationRequest(request.Adapter, request.Texts, request.Deadline)
        { Output = EncoderOutput.Embedding, Normalize = request.Normalize }, cancellationToken).ConfigureAwait(false);
        return new EmbeddingResult(result.Results.Select(r => new TextEmbedding(r.Embedding!, r.PromptTokens)).ToArray(), result.ServedFrom);
    }

    /// <summary>Stops admitting requests, lets queued and running ones finish within <paramref name="drainTimeout"/>, then stops.</summary>
    public Task StopAsync(TimeSpan drainTimeout) => supervisor.StopAsync(drainTimeout);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        if (!supervisor.StopRequested)
        {
            await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        }

        mode.Dispose();
        ownedResources?.Dispose();
        admission.Dispose();
    }
}
