namespace InferServer.Safetensors;

/// <summary>
/// A safetensors file, or a sharded checkpoint's index, does not follow the format. The message names the file, the
/// tensor when one is involved, and the problem.
/// </summary>
public sealed class SafetensorsFormatException : Exception
{
    public SafetensorsFormatException(string filePath, string? tensorName, string problem, Exception? innerException = null)
        : base(Describe(filePath, tensorName, problem), innerException)
    {
        FilePath = filePath;
        TensorName = tensorName;
        Problem = problem;
    }

    public string FilePath { get; }

    public string? TensorName { get; }

    public string Problem { get; }

    private static string Describe(string filePath, string? tensorName, string problem) => tensorName is null
        ? $"Safetensors file '{filePath}': {problem}"
        : $"Safetensors file '{filePath}', tensor '{tensorName}': {problem}";
}
