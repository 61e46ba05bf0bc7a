using Grpc.Core;

namespace InferServer.Server.Api;

public sealed partial class ExceptionInterceptor
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Unhandled exception in {Method}; answered INTERNAL", EventName = "UnhandledException")]
        public static partial void UnhandledException(ILogger logger, string method, Exception exception);

        [LoggerMessage(2, LogLevel.Debug, "{Method} for adapter '{Adapter}' ended with {Status}", EventName = "RequestFailed")]
        public static partial void RequestFailed(ILogger logger, string method, string adapter, StatusCode status);
    }
}
