namespace InferServer.LoadGen.MultiTurn;

/// <summary>
/// The multi-turn chat scenario of issue 24: <see cref="Conversations"/> concurrent conversations over
/// <see cref="Adapters"/> adapters drawn from Zipf(<see cref="ZipfAlpha"/>), each starting with its adapter's system prompt
/// of <see cref="SystemTokens"/> tokens, then <see cref="Turns"/> turns of <see cref="UserTokens"/> user tokens and
/// <see cref="MaxNewTokens"/> generated ones; every turn sends the whole conversation again, as a chat backend does.
/// </summary>
public sealed record MultiTurnOptions(
    Uri Target,
    string Label,
    int Round,
    int Conversations,
    int Adapters,
    string AdapterPrefix,
    double ZipfAlpha,
    int SystemTokens,
    int Turns,
    int UserTokens,
    int MaxNewTokens,
    int Vocabulary,
    int Seed,
    string? ApiKey);
