namespace InferServer.Server.Api.OpenAi;

public sealed partial class OpenAiApi
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "OpenAI {Endpoint} for model {Model}, user {User}: {Choices} choices, stream {Stream}", EventName = "OpenAiGeneration")]
        public static partial void Generation(ILogger logger, string endpoint, string model, string user, int choices, bool stream);
    }
}
