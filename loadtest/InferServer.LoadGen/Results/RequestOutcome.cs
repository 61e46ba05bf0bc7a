namespace InferServer.LoadGen.Results;

/// <summary>
/// What one request did, times in seconds from the start of the run. For open-loop runs the start is the scheduled
/// arrival, not the moment the request was sent, so a client falling behind shows up as latency (no coordinated omission).
/// </summary>
/// <param name="Index">The request's position in the plan.</param>
/// <param name="Adapter">The adapter it named ("" = base).</param>
/// <param name="Status">"OK" or the gRPC status code name (or the engine exception, in-process).</param>
/// <param name="Start">Arrival (open loop) or send (closed loop) time.</param>
/// <param name="FirstToken">When the first token reached the client; null for unary calls and failures.</param>
/// <param name="End">When the last frame (or the error) arrived.</param>
/// <param name="CompletionTokens">Tokens generated.</param>
/// <param name="ServerTimeToFirstTokenMs">The server's own TTFT (from acceptance), from the response's timing.</param>
/// <param name="ServerAdapterLoadMs">Time the server spent loading the adapter for this request.</param>
/// <param name="ServedFrom">Where the server says the adapter came from.</param>
public sealed record RequestOutcome(
    int Index,
    string Adapter,
    string Status,
    double Start,
    double? FirstToken,
    double End,
    int CompletionTokens,
    double? ServerTimeToFirstTokenMs,
    double? ServerAdapterLoadMs,
    string? ServedFrom)
{
    public bool Succeeded => Status == "OK";

    /// <summary>Time to first token seen by the client, in ms.</summary>
    public double? TimeToFirstTokenMs => FirstToken is { } first ? (first - Start) * 1000 : null;

    /// <summary>
    /// Mean time per output token after the first, in ms: (end − first token) / (tokens − 1), the vLLM benchmark's TPOT.
    /// Falls back to the server's TTFT for unary calls, where the client never sees the first token.
    /// </summary>
    public double? TimePerOutputTokenMs
    {
        get
        {
            if (!Succeeded || CompletionTokens < 2) return null;
            var firstToken = FirstToken ?? (ServerTimeToFirstTokenMs is { } serverTtft ? Start + serverTtft / 1000 : (double?)null);
            return firstToken is { } first ? (End - first) * 1000 / (CompletionTokens - 1) : null;
        }
    }

    public double LatencyMs => (End - Start) * 1000;
}
