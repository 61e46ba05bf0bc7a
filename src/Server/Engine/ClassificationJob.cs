using InferServer.AdapterStore.Peft;

namespace InferServer.Server.Engine;

/// <summary>
/// One Classify call inside the engine: its tokenized texts, its adapter, and the results filled in as its texts run
/// (texts of one call may span several steps, and one step may carry texts of several calls). Engine thread only,
/// except <see cref="Cancel"/> and the completion's awaiter.
/// </summary>
internal sealed class ClassificationJob(ClassificationRequest request, IReadOnlyList<int[]> texts, DateTimeOffset submitted)
{
    private volatile bool cancelled;

    public ClassificationRequest Request { get; } = request;

    public string? Adapter { get; } = string.IsNullOrEmpty(request.Adapter) ? null : request.Adapter;

    public IReadOnlyList<int[]> Texts { get; } = texts;

    public TextClassification?[] Results { get; } = new TextClassification?[texts.Count];

    /// <summary>Texts already classified (they run in order).</summary>
    public int Done { get; set; }

    public DateTimeOffset Submitted { get; } = submitted;

    public Task<LoraAdapter>? HostLoad { get; set; }

    public LoraAdapter? HostAdapter { get; set; }

    public AdapterServedFrom ServedFrom { get; set; } = AdapterServedFrom.Base;

    public TaskCompletionSource<ClassificationResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsCancelled => cancelled;

    public void Cancel() => cancelled = true;

    public bool IsExpired(DateTimeOffset now) => Request.Deadline is { } deadline && now >= deadline;
}
