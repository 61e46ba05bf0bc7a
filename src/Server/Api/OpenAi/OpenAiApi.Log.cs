using Grpc.Core;

namespace InferServer.Server.Api.OpenAi;

public sealed partial class OpenAiApi
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "OpenAI {Endpoint} for model {Model}, user {User}: {Choices} choices, stream {Stream}", EventName = "OpenAiGeneration")]
        public static partial void Generation(ILogger logger, string endpoint, string model, string user, int choices, bool stream);

        [LoggerMessage(2, LogLevel.Error, "Unhandled exception in OpenAI {Endpoint}; answered 500", EventName = "OpenAiUnhandledException")]
        public static partial void UnhandledException(ILogger logger, string endpoint, Exception exception);

        [LoggerMessage(3, LogLevel.Debug, "OpenAI {Endpoint} for adapter '{Adapter}' ended with {Status}", EventName = "OpenAiRequestFailed")]
        public static partial void RequestFailed(ILogger logger, string endpoint, string adapter, StatusCode status);

        [LoggerMessage(4, LogLevel.Information, "Adapter {Adapter} loaded from {Directory} through the OpenAI-compatible API", EventName = "OpenAiAdapterLoaded")]
        public static partial void AdapterLoaded(ILogger logger, string adapter, string directory);

        [LoggerMessage(5, LogLevel.Information, "Adapter {Adapter} unloaded through the OpenAI-compatible API", EventName = "OpenAiAdapterUnloaded")]
        public static partial void AdapterUnloaded(ILogger logger, string adapter);
    }
}
