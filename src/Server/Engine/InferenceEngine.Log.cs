using Microsoft.Extensions.Logging;

namespace InferServer.Server.Engine;

public sealed partial class InferenceEngine
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, EventName = "EngineCrashed", Level = LogLevel.Critical,
            Message = "The engine thread stopped on an unexpected error; the server no longer accepts requests")]
        public static partial void EngineCrashed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 1002, EventName = "DrainTimedOut", Level = LogLevel.Warning,
            Message = "Requests still running after the {DrainSeconds} s drain timeout are being cancelled")]
        public static partial void DrainTimedOut(ILogger logger, double drainSeconds);

        [LoggerMessage(EventId = 1003, EventName = "StepFailed", Level = LogLevel.Error,
            Message = "A model step over {Sequences} sequences failed; those requests were ended with an error")]
        public static partial void StepFailed(ILogger logger, int sequences, Exception exception);
    }
}
