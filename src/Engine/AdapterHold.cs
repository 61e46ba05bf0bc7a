using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Tiers;

namespace InferServer.Engine;

/// <summary>
/// A request's claim on its adapter's host copy, from the moment the request arrives (the load may still be running)
/// until it ends. <see cref="Release"/> is idempotent and safe before the load finishes: the lease is then disposed
/// as soon as it arrives. Every exit path of a request calls it; none can release twice.
/// </summary>
internal sealed class AdapterHold
{
    private readonly Task<AdapterLease> lease;
    private int released;

    public AdapterHold(Task<AdapterLease> lease) => this.lease = lease;

    /// <summary>The host copy once loaded (and while held); null while loading, after a failure or after release.</summary>
    public LoraAdapter? Adapter => Volatile.Read(ref released) == 0 && lease.IsCompletedSuccessfully ? lease.Result.Adapter : null;

    /// <summary>True while the load runs.</summary>
    public bool IsPending => !lease.IsCompleted;

    /// <summary>Why the load failed, once it has; null while pending or after success.</summary>
    public Exception? Failure => lease.IsFaulted ? lease.Exception!.InnerException ?? lease.Exception
        : lease.IsCanceled ? new OperationCanceledException("the adapter load was cancelled") : null;

    /// <summary>Completes when the load does (for waking the engine).</summary>
    public Task Completion => lease;

    /// <summary>Releases the pin now, or when the load finishes; later calls do nothing. Any thread.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref released, 1) != 0)
        {
            return;
        }

        lease.ContinueWith(static done => done.Result.Dispose(), CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}
