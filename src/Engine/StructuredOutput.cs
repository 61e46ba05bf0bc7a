using InferServer.Engine.Tokenization;
using InferServer.Kernels.Structured;

namespace InferServer.Engine;

/// <summary>
/// Where structured outputs enter the engine: the tokenizer's <see cref="TokenTrie"/> (built once, on the first
/// constrained request: every id below the sampled vocabulary with its bytes; special tokens never match a grammar)
/// and, per step, each constrained row's mask for <see cref="Kernels.Sampling.Sampler"/>. Engine thread only.
/// </summary>
internal sealed class StructuredOutput(TextTokenizer tokenizer, int vocabulary)
{
    private TokenTrie? trie;

    /// <summary>The ids the sampler sees (the tokenizer's and the model's vocabularies, whichever is smaller).</summary>
    public int Vocabulary => vocabulary;

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

        trie ??= new TokenTrie([.. Enumerable.Range(0, vocabulary)
            .Select(id => tokenizer.HasToken(id) && !tokenizer.IsSpecialToken(id) ? tokenizer.TokenBytes(id).ToArray() : null)]);
        var mask = new bool[vocabulary];
        if (matcher.FillMask(trie, mask, sequence.EndTokenIds) == 0)
        {
            sequence.GrammarDeadEnd = true;
            // Any token will do: the sequence fails when it commits it.
            mask[0] = true;
        }
        return mask;
    }
}
