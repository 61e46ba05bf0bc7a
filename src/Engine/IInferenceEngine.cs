namespace InferServer.Engine;

/// <summary>
/// The serving engine as the front doors (gRPC services, OpenAI-compatible HTTP) see it. Calls are thread-safe; the
/// engine validates what only it can judge (prompt length against the model, adapter existence) and throws the
/// exceptions of this folder, which the front doors map to status codes in one place. Handlers never see a tensor.
/// </summary>
public interface IInferenceEngine
{
    /// <summary>What is being served.</summary>
    EngineModelInfo Model { get; }

    /// <summary>Live counters for metrics and the Gateway API Inference Extension's model-server protocol.</summary>
    EngineStatus Status { get; }

    /// <summary>
    /// Why the engine stopped serving for good (its loop failed in a way it cannot recover from); null while it serves.
    /// Every request then fails with UNAVAILABLE, health reports NOT_SERVING and the host exits non-zero.
    /// </summary>
    Exception? Fault => null;

    /// <summary>When the engine loop last turned (it turns at least every 50 ms when idle); health reports a stall.</summary>
    DateTimeOffset? Heartbeat => null;

    /// <summary>
    /// Queues a generation and streams its tokens as they are produced, ending with one <see cref="GenerationFinished"/>.
    /// Throws before the first event for a bad request (<see cref="RequestValidationException"/>), an unknown adapter
    /// (AdapterNotFoundException), an adapter that cannot be served (InvalidAdapterException) or a full queue
    /// (<see cref="QueueFullException"/>). Cancelling the token (caller gone) or passing the request's deadline removes
    /// the request at the next step and frees its KV cache and adapter pin; the enumeration then throws
    /// OperationCanceledException or <see cref="DeadlineExceededException"/>.
    /// </summary>
    IAsyncEnumerable<GenerationEvent> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken = default);

    /// <summary>The bytes a token id stands for on its own, for naming tokens in log-probabilities (thread-safe, no
    /// engine step involved). Throws ArgumentOutOfRangeException for an id outside the vocabulary.</summary>
    ReadOnlyMemory<byte> TokenBytes(int tokenId);

    /// <summary>The token ids of <paramref name="text"/> exactly as a generation request with that prompt text gets
    /// them (thread-safe, no engine step involved).</summary>
    IReadOnlyList<int> Tokenize(string text, bool addSpecialTokens);

    /// <summary>The text of <paramref name="tokenIds"/>, special tokens included (thread-safe, no engine step).
    /// Throws <see cref="RequestValidationException"/> for field "tokens" naming the first id that is not in the tokenizer's
    /// vocabulary.</summary>
    string Detokenize(IReadOnlyList<int> tokenIds);

    /// <summary>Classifies a batch of texts with an encoder model and the adapter's head (or the base head).</summary>
    Task<ClassificationResult> ClassifyAsync(ClassificationRequest request, CancellationToken cancellationToken = default);

    /// <summary>One vector per text from an encoder model (mean-pooled last hidden state), with the adapter's LoRA on the encoder.</summary>
    Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken = default);
}
