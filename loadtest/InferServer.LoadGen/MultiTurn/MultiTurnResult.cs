namespace InferServer.LoadGen.MultiTurn;

/// <summary>One turn of one conversation as the client saw it.</summary>
/// <param name="Conversation">Conversation index.</param>
/// <param name="Turn">Turn number, from 1.</param>
/// <param name="Status">"OK" or the gRPC status.</param>
/// <param name="TtftMs">Client-side time to the first streamed token.</param>
/// <param name="PromptTokens">Prompt tokens the server counted.</param>
/// <param name="CachedTokens">Of those, tokens served from the prefix cache.</param>
/// <param name="OutputTokens">Tokens generated.</param>
public sealed record TurnOutcome(int Conversation, int Turn, string Status, double? TtftMs, int PromptTokens, int CachedTokens, int OutputTokens);

/// <summary>One run of the scenario (caching on or off), as written to its JSON file.</summary>
public sealed record MultiTurnResult(string Label, int Round, MultiTurnOptions Options, double Seconds, double LoadAverageStart,
    double LoadAverageEnd, IReadOnlyList<TurnOutcome> Turns)
{
    /// <summary>Generated tokens per second over the whole run.</summary>
    public double OutputTokensPerSecond => Turns.Sum(turn => turn.OutputTokens) / Seconds;
}
