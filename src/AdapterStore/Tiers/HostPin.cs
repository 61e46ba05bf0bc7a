namespace InferServer.AdapterStore.Tiers;

/// <summary>
/// One pin on a <see cref="HostCopy"/> (a request's, or a device slot's), released exactly once: the first
/// <see cref="Dispose"/> unpins, later ones do nothing, so no path can take another holder's pin with it.
/// </summary>
internal sealed class HostPin(HostTier tier, HostCopy copy, bool device) : IDisposable
{
    private int released;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref released, 1) == 0)
        {
            tier.Unpin(copy, device);
        }
    }
}
