namespace InferServer.Server.Hosting;

public static partial class InferServerApplication
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "{Listening}", EventName = "Listening")]
        public static partial void Listening(ILogger logger, string listening);
    }
}
