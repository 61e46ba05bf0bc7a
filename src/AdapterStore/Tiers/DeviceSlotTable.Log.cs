using Microsoft.Extensions.Logging;

namespace InferServer.AdapterStore.Tiers;

public sealed partial class DeviceSlotTable
{
    [LoggerMessage(EventId = 20, EventName = "DeviceSlotEventHandlerFailed", Level = LogLevel.Error, Message = "An adapter event handler failed on {Kind} of {AdapterName}")]
    private partial void LogEventHandlerFailed(Exception error, AdapterEventKind kind, string adapterName);
}
