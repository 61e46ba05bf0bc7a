using InferServer.AdapterStore.Peft;

namespace InferServer.Engine;

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

    /// <summary>Its claim on the adapter's host copy (null for the base model), released once when the job ends.</summary>
    public AdapterHold? Hold { get; set; }

    /// <summary>The host copy of its adapter once loaded, until the job ends.</summary>
    public LoraAdapter? HostAdapter => Hold?.Adapter;

    /// <summary>Its place in the bounded queue, given back when its first text is scheduled or when it ends before that.</summary>
    public AdmissionQueue.Place? Place { get; set; }

    public AdapterServedFrom ServedFrom { get; set; } = AdapterServedFrom.Base;

    public TaskCompletionSource<ClassificationResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsCancelled => cancelled;

    public void Cancel() => cancelled = true;

    public bool IsExpired(DateTimeOffset now) => Request.Deadline is { } deadline && now >= deadline;

    /// <summary>Gives back the queue place and the adapter pin; idempotent.</summary>
    public void ReleaseClaims()
    {
        Place?.Release();
        Hold?.Release();
    }
}
