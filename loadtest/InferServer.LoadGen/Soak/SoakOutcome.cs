namespace InferServer.LoadGen.Soak;

/// <summary>How one call ended, as the client saw it.</summary>
/// <param name="Status">"OK", a gRPC status code name (OpenAI errors mapped back to one), or one of the client-side endings below.</param>
/// <param name="Answer">The generated tokens (gRPC: ids; OpenAI: text) when the call ran to its end.</param>
/// <param name="Detail">The status message of a failed call, printed with a violation.</param>
/// <param name="Structured">A structured call that ran to its end: how its output was judged.</param>
public sealed record SoakOutcome(string Status, string? Answer, string? Detail = null, StructuredVerdict? Structured = null)
{
    public const string Ok = "OK";

    /// <summary>The client cancelled the call itself (the point of a <see cref="SoakFate.Cancel"/> call).</summary>
    public const string CancelledByClient = "CancelledByClient";

    /// <summary>The client dropped the connection itself (the point of a <see cref="SoakFate.Disconnect"/> call).</summary>
    public const string Disconnected = "Disconnected";

    /// <summary>A stream that ended without its final frame: the contract promises exactly one.</summary>
    public const string StreamWithoutEnd = "StreamEndedWithoutFinal";

    /// <summary>No answer within the call's own deadline on the client (OpenAI calls, which carry no deadline to the server).</summary>
    public const string ClientTimeout = "ClientTimeout";
}

/// <summary>How a structured call's completed output was judged (<see cref="SoakStructured"/>).</summary>
/// <param name="Checked">The output was complete and so checked (false: max_new_tokens ended it mid-value).</param>
/// <param name="Calls">Tool calls the reply carried.</param>
/// <param name="Problem">What is wrong with it; null when it validates.</param>
public sealed record StructuredVerdict(bool Checked, int Calls, string? Problem);
