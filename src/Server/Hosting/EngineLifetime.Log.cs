namespace InferServer.Server.Hosting;

public sealed partial class EngineLifetime
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Engine serving model {Model} ({ModelType}, {Kind})", EventName = "EngineStarted")]
        public static partial void EngineStarted(ILogger logger, string model, string modelType, string kind);

        [LoggerMessage(2, LogLevel.Information, "Draining the engine: running requests have {DrainSeconds} s to finish", EventName = "EngineDraining")]
        public static partial void Draining(ILogger logger, double drainSeconds);

        [LoggerMessage(3, LogLevel.Information, "Engine stopped", EventName = "EngineStopped")]
        public static partial void Drained(ILogger logger);

        [LoggerMessage(5, LogLevel.Warning, "The host's shutdown timeout ran out before the engine drained; stopping anyway", EventName = "EngineDrainAbandoned")]
        public static partial void DrainAbandoned(ILogger logger);

        [LoggerMessage(4, LogLevel.Critical, "The engine faulted ({Error}); health is NOT_SERVING and the server stops with exit code 70 so that it is restarted", EventName = "EngineFaulted")]
        public static partial void EngineFaulted(ILogger logger, string error);
    }
}
