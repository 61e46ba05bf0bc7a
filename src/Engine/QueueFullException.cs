namespace InferServer.Engine;

/// <summary>The bounded request queue is full: refused at once (gRPC RESOURCE_EXHAUSTED, HTTP 429 with Retry-After).</summary>
public sealed class QueueFullException(int capacity)
    : Exception($"the request queue is full ({capacity} waiting); retry later")
{
    /// <summary>The queue's capacity.</summary>
    public int Capacity { get; } = capacity;
}
