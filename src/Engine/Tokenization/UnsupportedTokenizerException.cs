namespace InferServer.Engine.Tokenization;

/// <summary>
/// A model directory whose tokenizer we refuse to load: no tokenizer file at all, or a tokenizer type or option that
/// Microsoft.ML.Tokenizers 2.0 (or our wrapper) cannot reproduce exactly. Refusing is deliberate: a tokenizer that
/// half-works produces plausible but wrong ids, and the model then answers nonsense without any error.
/// </summary>
public sealed class UnsupportedTokenizerException : Exception
{
    public UnsupportedTokenizerException(string path, string tokenizerType, string reason)
        : base($"Unsupported tokenizer '{tokenizerType}' in {path}: {reason}")
    {
        Path = path;
        TokenizerType = tokenizerType;
    }

    /// <summary>The file (or, when no tokenizer file was found, the directory) that was refused.</summary>
    public string Path { get; }

    /// <summary>The tokenizer type as the file names it (e.g. "Unigram"), or "none" when no file was found.</summary>
    public string TokenizerType { get; }
}
