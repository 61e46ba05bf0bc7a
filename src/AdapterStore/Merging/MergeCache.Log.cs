using Microsoft.Extensions.Logging;

namespace InferServer.AdapterStore.Merging;

public sealed partial class MergeCache
{
    [LoggerMessage(EventId = 30, EventName = "MergeEventHandlerFailed", Level = LogLevel.Error, Message = "An adapter event handler failed on {Kind} of {AdapterName}")]
    private partial void LogEventHandlerFailed(Exception error, AdapterEventKind kind, string adapterName);
}
