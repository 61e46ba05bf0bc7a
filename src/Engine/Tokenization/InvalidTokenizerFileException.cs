namespace InferServer.Engine.Tokenization;

/// <summary>
/// A tokenizer file that exists but cannot be read: malformed JSON, a missing required field, a vocabulary the
/// library rejects. Distinct from <see cref="UnsupportedTokenizerException"/>, where the file is fine but its type is not.
/// </summary>
public sealed class InvalidTokenizerFileException : Exception
{
    public InvalidTokenizerFileException(string path, string reason, Exception? innerException = null)
        : base($"Invalid tokenizer file {path}: {reason}", innerException)
    {
        Path = path;
    }

    public string Path { get; }
}
