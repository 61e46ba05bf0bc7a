namespace InferServer.Server.Api;

/// <summary>Listening endpoints and per-request limits of the front door, bound from the "Api" section.</summary>
public sealed record ApiOptions
{
    /// <summary>Address both endpoints listen on; loopback by default, so exposing the server is a decision.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>gRPC (HTTP/2 cleartext) port; 0 = any free port. Command line: --port.</summary>
    public int GrpcPort { get; init; } = 50051;

    /// <summary>HTTP/1.1 port for /metrics and /healthz; 0 = any free port, -1 = none.</summary>
    public int HttpPort { get; init; } = 50052;

    /// <summary>OpenAI-compatible API port (cleartext HTTP/1.1; HTTP/2 with TLS through Kestrel:Endpoints); 0 = any free port, -1 = none.</summary>
    public int OpenAiPort { get; init; } = 8000;

    /// <summary>Most choices (prompts × n) one OpenAI-compatible request may ask for; each is one engine request.</summary>
    public int OpenAiMaxChoices { get; init; } = 16;

    /// <summary>Most adapters one gRPC Generate/GenerateStream may fan out to (GenerateRequest.adapters).</summary>
    public int MaxFanOutAdapters { get; init; } = 16;

    /// <summary>Largest gRPC request message in bytes (gRPC MaxReceiveMessageSize).</summary>
    public int MaxReceiveMessageBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Longest prompt text, and longest single text to classify or chat message, in characters.</summary>
    public int MaxPromptChars { get; init; } = 256 * 1024;

    /// <summary>Most prompt token ids a request may send.</summary>
    public int MaxPromptTokens { get; init; } = 32 * 1024;

    /// <summary>max_new_tokens when a request leaves it 0.</summary>
    public int DefaultMaxNewTokens { get; init; } = 256;

    /// <summary>Largest max_new_tokens a request may ask for.</summary>
    public int MaxNewTokens { get; init; } = 4096;

    /// <summary>Most stop strings plus stop token ids per request.</summary>
    public int MaxStopSequences { get; init; } = 16;

    /// <summary>Most texts in one Classify call.</summary>
    public int MaxClassifyTexts { get; init; } = 64;

    /// <summary>Most messages in one Chat call.</summary>
    public int MaxChatMessages { get; init; } = 256;

    /// <summary>On shutdown, how long running requests may take to finish before they are cut off.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Most tools offered in one Chat call (each is rendered into the prompt and, when a call is forced, into its grammar).</summary>
    public int MaxTools { get; init; } = 64;
}
