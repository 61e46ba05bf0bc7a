using Microsoft.Extensions.Logging;

namespace InferServer.AdapterStore.Tiers;

// The registry passes its own logger to its host tier, so these keep the ids they had when the registry logged them.
public sealed partial class HostTier
{
    [LoggerMessage(EventId = 4, EventName = "AdapterEvicted", Level = LogLevel.Debug, Message = "Evicted adapter {AdapterName} from host memory ({Bytes} bytes)")]
    private partial void LogEvicted(string adapterName, long bytes);
}
