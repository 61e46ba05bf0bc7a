namespace InferServer.Server.Observability;

/// <summary>
/// One structured line per request of the InferServer APIs (gRPC and OpenAI-compatible; not health or reflection), in the
/// category "InferServer.Requests" at Information: Api (grpc, openai), Method, Adapter ("" = the base model), Status (the
/// gRPC status code name; the OpenAI API's HTTP status follows from it) and DurationMs. Off by default (appsettings.json
/// sets the category to Warning); Logging:LogLevel:InferServer.Requests=Information turns it on, and
/// Logging:Console:FormatterName=json writes the fields as JSON.
/// </summary>
public sealed partial class RequestLog(ILoggerFactory loggers)
{
    /// <summary>The log category of the request lines.</summary>
    public const string Category = "InferServer.Requests";

    private readonly ILogger logger = loggers.CreateLogger(Category);

    /// <summary>Writes the line of a request that ended with <paramref name="status"/> after <paramref name="duration"/>.</summary>
    public void Completed(string api, string method, string? adapter, string status, TimeSpan duration) =>
        Log.RequestCompleted(logger, api, method, adapter ?? "", status, duration.TotalMilliseconds);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "{Api} {Method} adapter '{Adapter}': {Status} in {DurationMs:0.0} ms", EventName = "RequestCompleted")]
        public static partial void RequestCompleted(ILogger logger, string api, string method, string adapter, string status, double durationMs);
    }
}
