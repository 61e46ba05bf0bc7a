using System.Threading.Channels;
using InferServer.AdapterStore.Peft;
using InferServer.Kernels.Sampling;
using InferServer.Kernels.Structured;
using InferServer.Engine.Tokenization;

namespace InferServer.Engine;

/// <summary>
/// One generation request inside the engine: its tokens, its KV blocks, its adapter pin, its sampling state and its
/// output stream. Created by the submitting thread; from then on touched only by the engine thread, except
/// <see cref="Cancel"/> and the reading end of <see cref="Output"/>.
/// </summary>
internal sealed class GenerationSequence
{
    private readonly IncrementalDetokenizer detokenizer;
    private readonly StopStringFilter stopFilter;
    private readonly HashSet<int> stopTokenIds;
    private readonly IReadOnlyList<int> eosTokenIds;
    private readonly TextTokenizer tokenizer;
    private volatile bool cancelled;

    public GenerationSequence(long id, GenerationRequest request, IReadOnlyList<int> promptTokens, TextTokenizer tokenizer,
        int maxContextTokens, DateTimeOffset submitted)
    {
        Id = id;
        Request = request;
        Adapter = string.IsNullOrEmpty(request.Adapter) ? null : request.Adapter;
        PromptLength = promptTokens.Count;
        Tokens = [.. promptTokens];
        MaxTokens = Math.Min(maxContextTokens, promptTokens.Count + request.MaxNewTokens);
        Sampling = new SamplingRow(request.Sampling, new TokenHistory(promptTokens), SequenceRandom.ForSeed(request.Sampling.Seed));
        detokenizer = new IncrementalDetokenizer(tokenizer);
        stopFilter = new StopStringFilter(request.StopStrings);
        stopTokenIds = [.. request.StopTokenIds];
        eosTokenIds = request.IgnoreEos ? [] : tokenizer.EosTokenIds;
        this.tokenizer = tokenizer;
        Grammar = request.Grammar?.NewMatcher();
        Submitted = submitted;
    }

    public long Id { get; }

    public GenerationRequest Request { get; }

    /// <summary>Adapter name, or null for the base model.</summary>
    public string? Adapter { get; }

    public int PromptLength { get; }

    /// <summary>Prompt followed by every generated token.</summary>
    public List<int> Tokens { get; }

    /// <summary>Tokens whose keys and values are in the KV cache (prefill progress; reset to 0 by preemption).</summary>
    public int ComputedTokens { get; set; }

    /// <summary>Prompt + generated tokens allowed (max_new_tokens, capped by the context limit).</summary>
    public int MaxTokens { get; }

    public int GeneratedCount => Tokens.Count - PromptLength;

    /// <summary>The KV-cache blocks this sequence uses (owned, or shared through the prefix cache).</summary>
    public List<int> Blocks { get; } = [];

    /// <summary>Leading blocks of <see cref="Blocks"/> that are registered in (or were reused from) the prefix cache.</summary>
    public int HashedBlocks { get; set; }

    /// <summary>Prefix cache chain hash after the <see cref="HashedBlocks"/> leading blocks.</summary>
    public ulong ChainHash { get; set; } = PrefixBlockKey.Root;

    /// <summary>Prompt tokens whose keys and values came from the prefix cache when first scheduled (usage's cached_tokens).</summary>
    public int CachedPromptTokens { get; set; }

    /// <summary>Whose KV blocks it may share: its adapter copy's <see cref="LoraAdapter.InstanceId"/>, 0 for the base model.</summary>
    public long CacheIdentity => HostAdapter?.InstanceId ?? 0;

    public SamplingRow Sampling { get; }

    /// <summary>Its position in the structured output's grammar; null for free text.</summary>
    public JsonGrammarMatcher? Grammar { get; }

    /// <summary>The ids that end it (end-of-sequence; none with ignore_eos), which a grammar allows once the value is complete.</summary>
    public IReadOnlyList<int> EndTokenIds => eosTokenIds;

    /// <summary>Set when the grammar had no token to offer (see <see cref="StructuredOutput.MaskFor"/>).</summary>
    public bool GrammarDeadEnd { get; set; }

    /// <summary>Device slot of its adapter while running (0 = base).</summary>
    public int AdapterSlot { get; set; }

    /// <summary>Its claim on the adapter's host copy (null for the base model), released once when the sequence ends.</summary>
    public AdapterHold? Hold { get; set; }

    /// <summary>The host copy of its adapter once loaded, until the sequence ends.</summary>
    public LoraAdapter? HostAdapter => Hold?.Adapter;

    /// <summary>True while its adapter was still loading when last looked at (the engine then times the load).</summary>
    public bool AwaitingLoad { get; set; }

    /// <summary>Its place in the bounded queue, given back when first scheduled or when it ends before that.</summary>
    public AdmissionQueue.Place? Place { get; set; }

    /// <summary>True while the sequence holds a device slot pin.</summary>
    public bool HoldsSlot { get; set; }

    public AdapterServedFrom ServedFrom { get; set; } = AdapterServedFrom.Base;

    public DateTimeOffset Submitted { get; }

    public DateTimeOffset? FirstScheduled { get; set; }

    public TimeSpan AdapterLoad { get; set; }

    public DateTimeOffset? FirstToken { get; set; }

    public bool IsCancelled => cancelled;

    /// <summary>Where events go; the handler is the only reader.</summary>
    public Channel<GenerationEvent> Output { get; } =
        Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>Called from any thread when the caller goes away; the engine removes the sequence at the next step.</summary>
    public void Cancel() => cancelled = true;

    /// <summary>True when the deadline has passed.</summary>
    public bool IsExpired(DateTimeOffset now) => Request.Deadline is { } deadline && now >= deadline;

    /// <summary>
    /// Commits a sampled token: records it, streams the text that became safe, and says whether generation ended (and
    /// why). Stop tokens and EOS are not emitted.
    /// </summary>
    public FinishReason? Accept(SampledToken sampled)
    {
        var token = sampled.TokenId;
        if (GrammarDeadEnd)
        {
            throw new InvalidOperationException("the response format's schema cannot be continued here (its recursion reached the nesting limit)");
        }

        if (eosTokenIds.Contains(token))
        {
            return FinishReason.EndOfSequence;
        }

        if (stopTokenIds.Contains(token))
        {
            return FinishReason.Stop;
        }

        // The mask let only tokens the grammar accepts through; a refusal here is a bug, and fails this sequence only.
        if (Grammar is not null && !Grammar.Accept(tokenizer.TokenBytes(token).Span))
        {
            throw new InvalidOperationException($"token {token} was sampled against the response format's grammar");
        }

        Tokens.Add(token);
        Sampling.History.Append(token);
        var text = stopFilter.Push(detokenizer.Push(token));
        var logprobs = Request.Sampling.Logprobs || Request.Sampling.TopLogprobs > 0 ? new[] { sampled } : null;
        Output.Writer.TryWrite(new TokenDelta(text, [token], logprobs));
        if (stopFilter.Stopped || Grammar is { IsFinished: true })
        {
            return FinishReason.Stop;
        }

        return Tokens.Count >= MaxTokens ? FinishReason.Length : null;
    }

    /// <summary>Emits held-back text and the final event, and closes the stream.</summary>
    public void Finish(FinishReason reason, DateTimeOffset now)
    {
        var rest = stopFilter.Stopped ? "" : stopFilter.Push(detokenizer.Flush()) + stopFilter.Flush();
        if (rest.Length > 0)
        {
            Output.Writer.TryWrite(new TokenDelta(rest, [], null));
        }

        var firstScheduled = FirstScheduled ?? now;
        var timing = new GenerationTiming(Submitted, firstScheduled - Submitted, AdapterLoad,
            (FirstToken ?? now) - Submitted, now - Submitted);
        Output.Writer.TryWrite(new GenerationFinished(reason, new Usage(PromptLength, GeneratedCount) { CachedPromptTokens = CachedPromptTokens }, timing, ServedFrom));
        Output.Writer.TryComplete();
    }

    /// <summary>Ends the stream with an error (cancellation, deadline, adapter failure).</summary>
    public void Fail(Exception error) => Output.Writer.TryComplete(error);

    /// <summary>Gives back the queue place and the adapter pin; idempotent. KV blocks and the slot are the scheduler's.</summary>
    public void ReleaseClaims()
    {
        Place?.Release();
        Hold?.Release();
    }
}
