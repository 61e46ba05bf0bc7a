namespace InferServer.Kernels.Structured;

/// <summary>
/// One request's position in its grammar: which tokens may come next (<see cref="FillMask"/>) and the state after each
/// committed token. Owned by one sequence on the engine thread.
/// </summary>
public sealed class JsonGrammarMatcher(GrammarState start)
{
    /// <summary>The automaton state after the tokens accepted so far.</summary>
    public GrammarState State { get; private set; } = start;

    /// <summary>The bytes so far are a complete value: end-of-sequence may be sampled.</summary>
    public bool IsAccepting => State.IsAccepting;

    /// <summary>The value is complete and nothing can follow: generation ends here.</summary>
    public bool IsFinished => State.IsFinished;

    /// <summary>
    /// Writes which ids may be sampled next into <paramref name="allowed"/> (one entry per id of the sampled
    /// vocabulary): the tokens the automaton accepts whole, plus <paramref name="endTokenIds"/> once the value is
    /// complete. Returns how many are allowed (0 = the schema cannot be continued from here).
    /// </summary>
    public int FillMask(TokenTrie trie, Span<bool> allowed, IReadOnlyList<int> endTokenIds)
    {
        ArgumentNullException.ThrowIfNull(trie);
        ArgumentNullException.ThrowIfNull(endTokenIds);
        allowed.Clear();
        var count = 0;
        if (!State.IsFinished)
        {
            var bits = trie.AllowedTokens(State);
            var limit = Math.Min(allowed.Length, trie.Vocabulary);
            for (var word = 0; word < bits.Length; word++)
            {
                var value = bits[word];
                while (value != 0)
                {
                    var id = (word << 6) + System.Numerics.BitOperations.TrailingZeroCount(value);
                    value &= value - 1;
                    if (id < limit)
                    {
                        allowed[id] = true;
                        count++;
                    }
                }
            }
        }
        if (State.IsAccepting)
        {
            foreach (var id in endTokenIds)
            {
                if ((uint)id < (uint)allowed.Length && !allowed[id])
                {
                    allowed[id] = true;
                    count++;
                }
            }
        }
        return count;
    }

    /// <summary>Moves past a token's bytes; false (state unchanged) when the grammar does not allow them.</summary>
    public bool Accept(ReadOnlySpan<byte> tokenBytes)
    {
        if (State.Advance(tokenBytes) is not { } next)
        {
            return false;
        }

        State = next;
        return true;
    }
}
