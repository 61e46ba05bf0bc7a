using Microsoft.Extensions.Logging;

namespace InferServer.AdapterStore.Registry;

public sealed partial class AdapterRegistry
{
    [LoggerMessage(EventId = 1, EventName = "AdapterLoading", Level = LogLevel.Debug, Message = "Loading adapter {AdapterName} from {Directory}")]
    private partial void LogLoading(string adapterName, string directory);

    [LoggerMessage(EventId = 2, EventName = "AdapterLoaded", Level = LogLevel.Information,
        Message = "Loaded adapter {AdapterName}: rank {Rank}, {ModuleCount} modules, {Bytes} bytes in host memory")]
    private partial void LogLoaded(string adapterName, int rank, int moduleCount, long bytes);

    [LoggerMessage(EventId = 3, EventName = "AdapterLoadFailed", Level = LogLevel.Warning, Message = "Adapter {AdapterName} from {Directory} could not be loaded")]
    private partial void LogLoadFailed(Exception error, string adapterName, string directory);

    // An expected refusal (the files cannot be served as they are): one line with every problem, no stack trace.
    [LoggerMessage(EventId = 9, EventName = "AdapterRefused", Level = LogLevel.Warning,
        Message = "Adapter {AdapterName} from {Directory} cannot be served ({ProblemCount} problems): {Problems}")]
    private partial void LogRefused(string adapterName, string directory, int problemCount, string problems);

    // EventId 4 (AdapterEvicted) is logged by the host tier, with this logger.

    [LoggerMessage(EventId = 5, EventName = "AdapterUnloaded", Level = LogLevel.Information,
        Message = "Unloaded adapter {AdapterName}; memory is freed when its {Pins} current user(s) finish")]
    private partial void LogUnloaded(string adapterName, int pins);

    [LoggerMessage(EventId = 6, EventName = "AdapterReloaded", Level = LogLevel.Information,
        Message = "Reloaded adapter {AdapterName} from {Directory}; the previous version drains")]
    private partial void LogReloaded(string adapterName, string directory);

    [LoggerMessage(EventId = 8, EventName = "AdapterTrainedOnOtherBase", Level = LogLevel.Warning,
        Message = "Adapter {AdapterName}: {Mismatch}; serving it anyway (Adapters:BaseModelCheck is warn)")]
    private partial void LogOtherBase(string adapterName, string mismatch);
}
