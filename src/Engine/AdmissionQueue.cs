namespace InferServer.Engine;

/// <summary>
/// The bound on requests accepted but not yet scheduled (Engine:MaxQueuedRequests). A request takes a
/// <see cref="Place"/> when it is accepted and gives it back exactly once, when it is first scheduled or when it ends
/// before that, whichever comes first: the count cannot drift, because a place is an object released once rather than
/// a counter each path decrements by convention.
/// </summary>
internal sealed class AdmissionQueue(int capacity)
{
    private int count;

    /// <summary>Places taken now.</summary>
    public int Count => Math.Max(0, Volatile.Read(ref count));

    public int Capacity { get; } = capacity;

    /// <summary>A place, or null when the queue is full. Any thread.</summary>
    public Place? TryEnter()
    {
        if (Interlocked.Increment(ref count) <= Capacity)
        {
            return new Place(this);
        }

        Interlocked.Decrement(ref count);
        return null;
    }

    /// <summary>One request's place in the queue.</summary>
    public sealed class Place(AdmissionQueue queue)
    {
        private int released;

        /// <summary>Gives the place back; later calls do nothing. Any thread.</summary>
        public void Release()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                Interlocked.Decrement(ref queue.count);
            }
        }
    }
}
