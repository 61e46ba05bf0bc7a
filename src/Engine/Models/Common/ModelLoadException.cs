namespace InferServer.Engine.Models.Common;

/// <summary>A base model directory that cannot be served: unsupported architecture or setting, or a checkpoint that
/// does not fit the architecture. The message lists every problem found, not just the first.</summary>
public sealed class ModelLoadException(string message) : Exception(message)
{
    /// <summary>Builds one exception from all problems found in a directory.</summary>
    public static ModelLoadException FromProblems(string directory, IReadOnlyCollection<string> problems) =>
        new($"cannot load the model in '{directory}' ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}):"
            + string.Concat(problems.Select(p => "\n  - " + p)));
}
