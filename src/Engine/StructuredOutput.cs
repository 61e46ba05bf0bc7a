using InferServer.Engine.Tokenization;
using InferServer.Kernels.Structured;

namespace InferServer.Engine;

/// <summary>
/// Where structured outputs enter the engine: the tokenizer's <see cref="TokenTrie"/> (every id below the sampled
/// vocabulary with its bytes; special tokens never match a grammar) and, per step, each constrained row's mask for
/// <see cref="Kernels.Sampling.Sampler"/>. The trie is built once, by the first constrained request's submitting thread
/// (<see cref="Prepare"/>, about half a second for a 50k vocabulary), never inside an engine step where every running
/// row would wait for it; <see cref="MaskFor"/> runs on the engine thread.
/// </summary>
internal sealed class StructuredOutput(TextTokenizer tokenizer, int vocabulary)
{
    private readonly Lazy<TokenTrie> trie = new(() => new TokenTrie([.. Enumerable.Range(0, vocabulary)
        .Select(id => tokenizer.HasToken(id) && !tokenizer.IsSpecialToken(id) ? tokenizer.TokenBytes(id).ToArray() : null)]));

    /// <summary>The ids the sampler sees (the tokenizer's and the model's vocabularies, whichever is smaller).</summary>
    public int Vocabulary => vocabulary;

    /// <summary>Builds the token trie if no constrained request has yet (thread-safe; the first caller builds it).</summary>
    public void Prepare() => _ = trie.Value;

    /// <summary>
    /// The keep-mask of <paramref name="sequence"/>'s next token, or null when it is unconstrained. A grammar that can
    /// no longer be continued (a schema whose recursion outgrew the depth cap) marks the sequence, which then fails.
    /// </summary>
    public bool[]? MaskFor(GenerationSequence sequence)
    {
        if (sequence.Grammar is not { } matcher)
        {
            return null;
        }

        var mask = new bool[vocabulary];
        if (matcher.FillMask(trie.Value, mask, sequence.EndTokenIds) == 0)
        {
            sequence.GrammarDeadEnd = true;
            // Any token will do: the sequence fails when it commits it.
            mask[0] = true;
        }
        return mask;
    }
}
