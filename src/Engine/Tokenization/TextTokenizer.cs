using System.Text;

namespace InferServer.Engine.Tokenization;

/// <summary>
/// Our tokenizer abstraction: the engine and the API see ids and strings, never Microsoft.ML.Tokenizers types.
/// Encoding is the library's; decoding is ours, from a per-id byte table, because a streaming decoder must be able
/// to hold back half a UTF-8 character and the library only decodes whole id sequences to strings.
/// Create one with <see cref="TokenizerLoader.Load"/>. Thread-safe: nothing here changes after construction.
/// </summary>
public sealed class TextTokenizer
{
    private readonly TextTokenizerDefinition definition;

    internal TextTokenizer(TextTokenizerDefinition definition)
    {
        this.definition = definition;
    }

    /// <summary>"bpe" (byte-level), "wordpiece" or "sentencepiece".</summary>
    public string Kind => definition.Kind;

    /// <summary>One more than the largest token id, counting added tokens (Hugging Face's <c>len(tokenizer)</c>).
    /// A model's embedding may be larger (padded to a multiple of 64 or 128); it must not be smaller.</summary>
    public int VocabularySize => definition.TokenBytes.Length;

    public int? BosTokenId => definition.BosTokenId;

    /// <summary>The tokenizer's own end-of-sequence id, or the first of <see cref="EosTokenIds"/> when it names none.</summary>
    public int? EosTokenId => EosTokenIds.Count > 0 ? EosTokenIds[0] : null;

    /// <summary>Every id that ends generation: the tokenizer's eos_token plus every id generation_config.json and
    /// config.json list (Llama 3 Instruct stops on both &lt;|end_of_text|&gt; and &lt;|eot_id|&gt;).</summary>
    public IReadOnlyList<int> EosTokenIds => definition.EosTokenIds;

    public int? PadTokenId => definition.PadTokenId;

    public int? UnknownTokenId => definition.UnknownTokenId;

    /// <summary>The raw Jinja chat template from tokenizer_config.json, or null when the model has none.</summary>
    public string? ChatTemplate => definition.ChatTemplate;

    /// <summary>The beginning-of-sequence token as text (tokenizer_config.json's bos_token, else the text of
    /// <see cref="BosTokenId"/>), or null; chat templates write it themselves.</summary>
    public string? BosToken => definition.BosToken;

    /// <summary>The end-of-sequence token as text (eos_token, else the text of <see cref="EosTokenId"/>), or null.</summary>
    public string? EosToken => definition.EosToken;

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = definition.EncodeWithoutSpecialTokens(text);
        if (!addSpecialTokens || (definition.PrefixTokenIds.Count == 0 && definition.SuffixTokenIds.Count == 0))
        {
            return ids;
        }
        return [.. definition.PrefixTokenIds, .. ids, .. definition.SuffixTokenIds];
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        var atStart = true;
        foreach (var id in ids)
        {
            AppendTokenBytes(id, skipSpecialTokens, ref atStart, bytes);
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>The id of a token written exactly as the vocabulary spells it ("&lt;|endoftext|&gt;", "[SEP]", "Ġworld").</summary>
    public int? TokenToId(string token) => definition.TokenIds.TryGetValue(token, out var id) ? id : null;

    public bool IsSpecialToken(int id) => definition.SpecialTokenIds.Contains(id);

    /// <summary>True when <paramref name="id"/> names a token (a vocabulary cut to fewer ids keeps its special tokens'
    /// high ids, so the id range can have holes).</summary>
    public bool HasToken(int id) => (uint)id < (uint)definition.TokenBytes.Length && definition.TokenBytes[id] is not null;

    /// <summary>The bytes token <paramref name="id"/> stands for on its own (a special token's text; a byte-level piece may
    /// be part of a UTF-8 character), as OpenAI's logprobs report a token.</summary>
    public ReadOnlyMemory<byte> TokenBytes(int id)
    {
        if ((uint)id >= (uint)definition.TokenBytes.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(id), id,
                $"Token id is outside the tokenizer's vocabulary of {definition.TokenBytes.Length} ids.");
        }
        return definition.TokenBytes[id] ?? [];
    }

    /// <summary>
    /// Appends the bytes <paramref name="id"/> contributes to decoded text. <paramref name="atStart"/> is true until
    /// the first byte is written; it carries the leading-space rule across calls, which is what lets
    /// <see cref="IncrementalDetokenizer"/> produce exactly what <see cref="Decode"/> does.
    /// </summary>
    internal void AppendTokenBytes(int id, bool skipSpecialTokens, ref bool atStart, List<byte> output)
    {
        var bytes = TokenBytes(id).Span;
        if (bytes.IsEmpty || (skipSpecialTokens && definition.SpecialTokenIds.Contains(id)))
        {
            return;
        }
        var start = atStart && definition.StripsLeadingSpace && bytes[0] == (byte)' ' ? 1 : 0;
        atStart = false;
        output.AddRange(bytes[start..]);
    }
}
