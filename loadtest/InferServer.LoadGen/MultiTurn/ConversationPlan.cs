using InferServer.LoadGen.Scenarios;

namespace InferServer.LoadGen.MultiTurn;

/// <summary>
/// The token ids of every conversation, fixed by the seed so that the caching-on and caching-off runs send the same
/// conversations: each adapter's system prompt, and each conversation's adapter and user turns. The assistant's turns
/// are whatever the server generates (greedy), appended as token ids, so a turn's prompt extends the previous one exactly.
/// </summary>
public sealed class ConversationPlan
{
    // Ids below this are skipped: small ids are often special or control tokens.
    private const int FirstOrdinaryId = 100;

    private ConversationPlan(IReadOnlyList<string> adapters, IReadOnlyList<int[]> systemPrompts, IReadOnlyList<int[][]> userTurns)
    {
        Adapters = adapters;
        SystemPrompts = systemPrompts;
        UserTurns = userTurns;
    }

    /// <summary>The adapter of each conversation.</summary>
    public IReadOnlyList<string> Adapters { get; }

    /// <summary>The system prompt of each conversation (shared by the conversations of one adapter).</summary>
    public IReadOnlyList<int[]> SystemPrompts { get; }

    /// <summary>The user tokens of each conversation's turns.</summary>
    public IReadOnlyList<int[][]> UserTurns { get; }

    public static ConversationPlan Create(MultiTurnOptions options)
    {
        var random = new Random(options.Seed);
        var highest = Math.Max(FirstOrdinaryId + 1, options.Vocabulary);
        int[] Tokens(int count) => Enumerable.Range(0, count).Select(_ => random.Next(FirstOrdinaryId, highest)).ToArray();

        var systemPrompts = Enumerable.Range(0, options.Adapters).Select(_ => Tokens(options.SystemTokens)).ToArray();
        var zipf = new ZipfSampler(options.Adapters, options.ZipfAlpha);
        var ranks = Enumerable.Range(0, options.Conversations).Select(_ => zipf.Sample(random)).ToArray();
        var userTurns = ranks.Select(_ => Enumerable.Range(0, options.Turns).Select(_ => Tokens(options.UserTokens)).ToArray()).ToArray();
        return new ConversationPlan(
            [.. ranks.Select(rank => $"{options.AdapterPrefix}{rank:D3}")],
            [.. ranks.Select(rank => systemPrompts[rank])],
            userTurns);
    }
}
