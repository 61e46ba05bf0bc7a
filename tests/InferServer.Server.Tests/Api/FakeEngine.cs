using InferServer.Engine.Composition;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using InferServer.AdapterStore;
using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.Kernels.Sampling;
using InferServer.Engine;
using InferServer.Server.Hosting;

namespace InferServer.Server.Tests.Api;

/// <summary>
/// A scripted engine and registry behind the host's <see cref="IEngineRuntime"/> seam, for API behaviour that a real
/// model cannot produce on demand. Prompts steer it: "hang" streams one delta then waits for cancellation (and
/// occupies one of <see cref="QueueCapacity"/> places), "deadline" throws DeadlineExceededException, "invalid" a
/// RequestValidationException, "boom" an unexpected exception; anything else is echoed word by word.
/// </summary>
public sealed class FakeEngine : IInferenceEngine, IAdapterRegistry, IEngineRuntime
{
    private readonly ConcurrentDictionary<string, AdapterInfo> adapters = new(StringComparer.Ordinal);
    private int hanging;

    public EngineModelInfo Model { get; init; } =
        new("fake-model", "llama", ModelKind.TextGeneration, 2048, ChatTemplate: null, ["negative", "positive"]);

    public EngineStatus Status { get; set; } = new(0, 0, 0.25, 4, [], [], DateTimeOffset.UnixEpoch, 10, 30, 100, 40, 1 << 20, 1 << 10, 1 << 12);

    public int QueueCapacity { get; set; } = 8;

    /// <summary>Set to make the engine report a fault, as a real one does when its loop cannot go on.</summary>
    public Exception? Fault { get; set; }

    /// <summary>The fake has no adapter tiers, so it raises no lifecycle events.</summary>
    public event EventHandler<AdapterEvent>? AdapterChanged { add { } remove { } }

    /// <summary>The last generation request the engine received.</summary>
    public GenerationRequest? LastRequest { get; private set; }

    /// <summary>Completed when a "hang" request has streamed its first delta.</summary>
    public TaskCompletionSource Hanging { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completed when a "hang" request saw its cancellation token fire.</summary>
    public TaskCompletionSource CancellationObserved { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TimeSpan? DrainedWith { get; private set; }

    public IInferenceEngine Engine => this;

    /// <summary>Token i is the text "t{i}".</summary>
    public ReadOnlyMemory<byte> TokenBytes(int tokenId) => System.Text.Encoding.UTF8.GetBytes($"t{tokenId}");

    /// <summary>One id per character: its UTF-16 code.</summary>
    public IReadOnlyList<int> Tokenize(string text, bool addSpecialTokens) => [.. text.Select(c => (int)c)];

    /// <summary>The inverse of <see cref="Tokenize"/>.</summary>
    public string Detokenize(IReadOnlyList<int> tokenIds) => new([.. tokenIds.Select(id => (char)id)]);

    public IAdapterRegistry Adapters => this;

    public async IAsyncEnumerable<GenerationEvent> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        LastRequest = request;
        CheckAdapter(request.Adapter);
        var prompt = request.PromptText ?? string.Join(' ', request.PromptTokenIds!);
        switch (prompt)
        {
            case "invalid": throw new RequestValidationException("prompt", "too long for the context");
            case "deadline": throw new DeadlineExceededException("before the first token");
            case "boom": throw new InvalidOperationException("secret internal detail");
            case "hang":
                if (Interlocked.Increment(ref hanging) > QueueCapacity)
                {
                    Interlocked.Decrement(ref hanging);
                    throw new QueueFullException(QueueCapacity);
                }
                try
                {
                    yield return new TokenDelta("first", [1], null);
                    Hanging.TrySetResult();
                    await WaitForCancellationAsync(cancellationToken);
                }
                finally
                {
                    Interlocked.Decrement(ref hanging);
                }
                yield break;
        }
        var words = prompt.Split(' ');
        foreach (var word in words.Take(request.MaxNewTokens))
        {
            IReadOnlyList<SampledToken>? logprobs = request.Sampling.Logprobs
                ? [new SampledToken(word.Length, -0.5f, [.. Enumerable.Range(0, request.Sampling.TopLogprobs).Select(i => new TokenLogprob(i, -1f - i))])]
                : null;
            yield return new TokenDelta(word + " ", [word.Length], logprobs);
        }
        var generated = Math.Min(words.Length, request.MaxNewTokens);
        yield return new GenerationFinished(
            generated < words.Length ? FinishReason.Length : FinishReason.EndOfSequence,
            new Usage(words.Length, generated),
            new GenerationTiming(DateTimeOffset.UtcNow, TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(1),
                TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(9)),
            string.IsNullOrEmpty(request.Adapter) ? AdapterServedFrom.Base : AdapterServedFrom.Device);
    }

    private async Task WaitForCancellationAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            CancellationObserved.TrySetResult();
            throw;
        }
    }

    public Task<ClassificationResult> ClassifyAsync(ClassificationRequest request, CancellationToken cancellationToken = default)
    {
        CheckAdapter(request.Adapter);
        var results = request.Texts.Select(text => new TextClassification(
            [new LabelScore("positive", 1, 0.9), new LabelScore("negative", 0, 0.1)], text.Length)).ToList();
        return Task.FromResult(new ClassificationResult(results, string.IsNullOrEmpty(request.Adapter) ? AdapterServedFrom.Base : AdapterServedFrom.Loaded));
    }

    /// <summary>Vectors [characters, 0.5, -0.25] per text, so tests see which text each came from.</summary>
    public Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken = default)
    {
        CheckAdapter(request.Adapter);
        var results = request.Texts.Select(text => new TextEmbedding([text.Length, 0.5f, -0.25f], text.Length)).ToList();
        return Task.FromResult(new EmbeddingResult(results, string.IsNullOrEmpty(request.Adapter) ? AdapterServedFrom.Base : AdapterServedFrom.Loaded));
    }

    private void CheckAdapter(string? adapter)
    {
        if (!string.IsNullOrEmpty(adapter) && !adapters.ContainsKey(adapter)) throw new AdapterNotFoundException(adapter);
    }

    /// <summary>Registers "&lt;name&gt;" from any path under /adapters; a path containing "corrupt" is invalid.</summary>
    public Task<AdapterInfo> LoadAsync(string name, string? directory, bool reload, CancellationToken cancellationToken)
    {
        if (name.Contains('/')) throw new InvalidAdapterNameException(name, "'/' is not allowed");
        directory ??= "/adapters/" + name;
        if (!directory.StartsWith("/adapters/", StringComparison.Ordinal)) throw new AdapterPathException(directory, "outside the adapter roots");
        if (directory.Contains("corrupt", StringComparison.Ordinal))
            throw new InvalidAdapterException(name, directory, ["lora_A of q_proj has shape [4, 3], expected [4, 64]", "rank 512 exceeds Adapters:MaxRank 64"]);
        var info = new AdapterInfo(name, directory, AdapterTier.Host, 8, ["q_proj", "v_proj"], 4096, 0, null, "CAUSAL_LM", null);
        adapters[name] = info;
        return Task.FromResult(info);
    }

    public Task UnloadAsync(string name, CancellationToken cancellationToken) =>
        adapters.TryRemove(name, out _) ? Task.CompletedTask : throw new AdapterNotFoundException(name);

    public IReadOnlyList<AdapterInfo> List() => [.. adapters.Values.OrderBy(adapter => adapter.Name, StringComparer.Ordinal)];

    public AdapterInfo Get(string name) => adapters.TryGetValue(name, out var info) ? info : throw new AdapterNotFoundException(name);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(TimeSpan drainTimeout)
    {
        DrainedWith = drainTimeout;
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
