using InferServer.AdapterStore.Peft;

namespace InferServer.AdapterStore.Tiers;

/// <summary>
/// One request's pin on an adapter's host copy in the <see cref="HostTier"/>, handed out by the registry's
/// <c>AcquireHostAsync</c> (named, not linked: the tiers know nothing of the registry above them). The copy is never
/// evicted or freed while a lease on it is held. Disposing releases the pin exactly once, however many times and from
/// however many paths (finish, cancel, deadline, failure, shutdown) it is called: a double release is impossible by
/// construction rather than avoided by care.
/// </summary>
public sealed class AdapterLease : IDisposable
{
    private Action? release;

    /// <param name="adapter">The pinned copy.</param>
    /// <param name="release">Called once, by the first <see cref="Dispose"/>.</param>
    public AdapterLease(LoraAdapter adapter, Action release)
    {
        Adapter = adapter;
        this.release = release;
    }

    /// <summary>The pinned host copy; do not use it after <see cref="Dispose"/>.</summary>
    public LoraAdapter Adapter { get; }

    /// <summary>True once the pin has been released.</summary>
    public bool IsReleased => Volatile.Read(ref release) is null;

    /// <summary>Releases the pin; later calls do nothing. Any thread.</summary>
    public void Dispose() => Interlocked.Exchange(ref release, null)?.Invoke();
}
