namespace InferServer.Engine;

/// <summary>
/// How the engine runs: the model, the device, and the limits that bound memory and latency. Bound from the
/// "Engine" configuration section; <see cref="Validate"/> lists every problem at start.
/// </summary>
public sealed record EngineOptions
{
    /// <summary>Hugging Face model directory; empty = generate and serve the embedded demo model.</summary>
    public string ModelPath { get; init; } = "";

    /// <summary>Name clients use for the base model (OpenAI "model"); empty = the model directory's name.</summary>
    public string ServedModelName { get; init; } = "";

    /// <summary>"cpu" or "cuda[:N]".</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>float32, bfloat16 or float16.</summary>
    public string DType { get; init; } = "float32";

    /// <summary>Requests waiting beyond this are refused with QueueFullException.</summary>
    public int MaxQueuedRequests { get; init; } = 256;

    /// <summary>Sequences in one step.</summary>
    public int MaxBatchRows { get; init; } = 64;

    /// <summary>Tokens in one step (long prompts are chunked to fit, so decodes are not starved).</summary>
    public int MaxBatchTokens { get; init; } = 512;

    /// <summary>
    /// Tokens in one encoder step (Classify, Embed). Separate from <see cref="MaxBatchTokens"/>: an encoder step has no
    /// decode to keep fed, and every step repeats the same fixed work (kernel launches per layer, LoRA index tensors), so
    /// one Classify call of 64 texts should be one step, not the four that 512 tokens allowed.
    /// </summary>
    public int EncoderMaxBatchTokens { get; init; } = 16384;

    /// <summary>KV-cache budget in bytes (allocated once at start).</summary>
    public long KvCacheBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>Tokens per KV-cache block.</summary>
    public int KvBlockSize { get; init; } = 16;

    /// <summary>Context limit per sequence (prompt + generated); 0 = the model's maximum.</summary>
    public int MaxContextTokens { get; init; }

    /// <summary>Largest max_new_tokens a request may ask for.</summary>
    public int MaxNewTokensLimit { get; init; } = 4096;

    /// <summary>libtorch intra-op threads; 0 = libtorch's default.</summary>
    public int TorchThreads { get; init; }

    /// <summary>
    /// Whether CPU model weights go on 2 MiB transparent huge pages (Linux; logged at start with how many bytes did).
    /// Decode reads every weight once per token, and 4 KiB pages cost a TLB miss per page of that stream. The KV cache and
    /// adapter slot pools ask for huge pages (advice only) either way.
    /// </summary>
    public bool HugePages { get; init; } = true;

    /// <summary>A queued request older than this is scheduled before newer ones whatever their adapter (fairness bound).</summary>
    public TimeSpan MaxQueueWaitBeforePriority { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A request whose adapter has not reached host memory after this long fails with UNAVAILABLE (a hung load must not hold it for ever).</summary>
    public TimeSpan AdapterLoadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Health reports NOT_SERVING when the engine loop has not turned for this long (a hung step).</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Keep the full KV blocks of finished requests and reuse them for later requests of the same adapter copy that start
    /// with the same tokens (automatic prefix caching, keyed by adapter; see docs/architecture.md). Idle cached blocks
    /// are evicted least recently used first whenever an allocation needs room, so the KV budget is unchanged.
    /// </summary>
    public bool PrefixCaching { get; init; } = true;

    /// <summary>
    /// Batch-invariant mode: every request's logits are bit-identical whatever else its steps hold (other rows, their adapters,
    /// prefill chunking, preemption), so seeded sampling, fan-out and logprobs equal the request alone. The merge cache is not
    /// used in this mode (a merged weight rounds differently from the LoRA path). Costs and guarantees:
    /// docs/configuration.md and docs/architecture.md, "Batch-invariant mode".
    /// </summary>
    public bool BatchInvariant { get; init; }

    /// <summary>Every problem with these options, each naming its key.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (MaxQueuedRequests < 1)
        {
            problems.Add("Engine:MaxQueuedRequests must be at least 1");
        }

        if (MaxBatchRows < 1)
        {
            problems.Add("Engine:MaxBatchRows must be at least 1");
        }

        if (MaxBatchTokens < MaxBatchRows)
        {
            problems.Add("Engine:MaxBatchTokens must be at least Engine:MaxBatchRows");
        }

        if (EncoderMaxBatchTokens < 1)
        {
            problems.Add("Engine:EncoderMaxBatchTokens must be at least 1");
        }

        if (KvCacheBytes <= 0)
        {
            problems.Add("Engine:KvCacheBytes must be positive");
        }

        if (KvBlockSize < 1)
        {
            problems.Add("Engine:KvBlockSize must be at least 1");
        }

        if (MaxContextTokens < 0)
        {
            problems.Add("Engine:MaxContextTokens must not be negative");
        }

        if (MaxNewTokensLimit < 1)
        {
            problems.Add("Engine:MaxNewTokensLimit must be at least 1");
        }

        if (TorchThreads < 0)
        {
            problems.Add("Engine:TorchThreads must not be negative");
        }

        if (AdapterLoadTimeout <= TimeSpan.Zero)
        {
            problems.Add("Engine:AdapterLoadTimeout must be positive");
        }

        if (StallTimeout <= TimeSpan.Zero)
        {
            problems.Add("Engine:StallTimeout must be positive");
        }

        if (Device != "cpu" && !Device.StartsWith("cuda", StringComparison.Ordinal))
        {
            problems.Add($"Engine:Device '{Device}' must be cpu or cuda[:N]");
        }

        if (BatchInvariant && Device != "cpu")
        {
            // The mode's row padding rests on how the CPU GEMM rounds (measured); cuBLAS picks its kernels by the row count.
            problems.Add("Engine:BatchInvariant is supported on the cpu device only (docs/architecture.md, \"Batch-invariant mode\")");
        }

        if (DType is not ("float32" or "bfloat16" or "float16"))
        {
            problems.Add($"Engine:DType '{DType}' must be float32, bfloat16 or float16");
        }

        return problems;
    }
}
