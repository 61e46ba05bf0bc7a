namespace InferServer.Engine;

/// <summary>
/// The front door's side of the engine thread, shared by both modes: the bounded queue, the one lock that makes a
/// request either reach the loop before its final drain or be refused, the adapter pins started on admission, and the
/// event that wakes the loop. Any thread.
/// </summary>
internal sealed class EngineAdmission(EngineOptions options, IEngineAdapters adapters) : IDisposable
{
    private readonly AdmissionQueue queue = new(options.MaxQueuedRequests);
    private readonly AutoResetEvent wake = new(false);
    // Guards accepting and closed, so that a request is either enqueued before the loop's final drain or refused.
    private readonly Lock gate = new();
    private bool accepting = true;
    private bool closed;

    /// <summary>Requests accepted and not yet scheduled.</summary>
    public int Queued => queue.Count;

    /// <summary>Takes a place in the bounded queue or refuses at once; never buffers without bound.</summary>
    public AdmissionQueue.Place TakePlace()
    {
        lock (gate)
        {
            if (!accepting)
            {
                throw new EngineStoppedException();
            }

            return queue.TryEnter() ?? throw new QueueFullException(options.MaxQueuedRequests);
        }
    }

    /// <summary>Hands a request to the engine thread, unless the loop has already closed (then it is refused).</summary>
    public void Enqueue(Action enqueue)
    {
        lock (gate)
        {
            if (closed)
            {
                throw new EngineStoppedException();
            }

            enqueue();
        }
        wake.Set();
    }

    /// <summary>Starts pinning the adapter's host copy (loading it if needed) and wakes the engine when the load ends.</summary>
    public AdapterHold Hold(string adapter)
    {
        var hold = new AdapterHold(adapters.PinHostAsync(adapter, CancellationToken.None));
        if (hold.IsPending)
        {
            _ = hold.Completion.ContinueWith(_ => wake.Set(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }

        return hold;
    }

    /// <summary>Wakes the loop (a request arrived, was cancelled, or the engine is stopping).</summary>
    public void Wake() => wake.Set();

    /// <summary>Sleeps the engine thread until woken or <paramref name="timeout"/> passes.</summary>
    public void WaitForWork(TimeSpan timeout) => wake.WaitOne(timeout);

    /// <summary>Refuses new requests; those already accepted still reach the loop (the drain).</summary>
    public void StopAccepting()
    {
        lock (gate)
        {
            accepting = false;
        }
    }

    /// <summary>Refuses every later request, including those accepted but not yet handed over.</summary>
    public void Close()
    {
        lock (gate)
        {
            accepting = false;
            closed = true;
        }
    }

    public void Dispose() => wake.Dispose();
}
