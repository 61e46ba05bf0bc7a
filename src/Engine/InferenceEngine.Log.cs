using Microsoft.Extensions.Logging;

namespace InferServer.Engine;

public sealed partial class InferenceEngine
{
    internal static partial class Log
    {
        [LoggerMessage(EventId = 1001, EventName = "EngineFaulted", Level = LogLevel.Critical,
            Message = "The engine loop failed repeatedly and stopped; every request now fails with UNAVAILABLE, health reports NOT_SERVING and the server exits")]
        public static partial void EngineFaulted(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 1002, EventName = "DrainTimedOut", Level = LogLevel.Warning,
            Message = "Requests still running after the {DrainSeconds} s drain timeout are being cancelled")]
        public static partial void DrainTimedOut(ILogger logger, double drainSeconds);

        [LoggerMessage(EventId = 1003, EventName = "StepFailed", Level = LogLevel.Error,
            Message = "A model step over {Sequences} sequences failed; those requests were ended with an error")]
        public static partial void StepFailed(ILogger logger, int sequences, Exception exception);

        [LoggerMessage(EventId = 1004, EventName = "TurnFailed", Level = LogLevel.Error,
            Message = "A turn of the engine loop failed ({FailedTurns} in a row); the requests it concerned were ended with an error")]
        public static partial void TurnFailed(ILogger logger, int failedTurns, Exception exception);

        [LoggerMessage(EventId = 1005, EventName = "AdmissionFailed", Level = LogLevel.Error,
            Message = "Preparing adapter {Adapter} for a request failed; that request was ended with an error")]
        public static partial void AdmissionFailed(ILogger logger, string adapter, Exception exception);

        [LoggerMessage(EventId = 1006, EventName = "MergeFailed", Level = LogLevel.Warning,
            Message = "Merging adapter {Adapter} failed; the step runs on the LoRA slots instead")]
        public static partial void MergeFailed(ILogger logger, string adapter, Exception exception);

        [LoggerMessage(EventId = 1007, EventName = "ReleaseFailed", Level = LogLevel.Error,
            Message = "Releasing a request's device resources failed")]
        public static partial void ReleaseFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 1050, EventName = "PrefixCachingOff", Level = LogLevel.Information,
            Message = "Prefix caching is off for this model: its rotary embedding (longrope) depends on each prompt's length")]
        public static partial void PrefixCachingOff(ILogger logger);
    }
}
