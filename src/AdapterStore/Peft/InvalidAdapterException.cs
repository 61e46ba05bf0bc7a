namespace InferServer.AdapterStore.Peft;

/// <summary>An adapter directory that cannot be served; <see cref="Problems"/> lists every problem found, not just the first.</summary>
public sealed class InvalidAdapterException : Exception
{
    public InvalidAdapterException(string adapterName, string directory, IReadOnlyList<string> problems)
        : base(Describe(adapterName, directory, problems))
    {
        AdapterName = adapterName;
        Directory = directory;
        Problems = problems;
    }

    public string AdapterName { get; }

    public string Directory { get; }

    public IReadOnlyList<string> Problems { get; }

    /// <summary>
    /// What a client is told: the adapter and its first problems, without the server path (the log has it all). Front
    /// doors bound its length again.
    /// </summary>
    public string ClientMessage =>
        $"Adapter '{AdapterName}' cannot be served ({Problems.Count} problem{(Problems.Count == 1 ? "" : "s")}): "
        + string.Join("; ", Problems.Take(ListedProblems))
        + (Problems.Count > ListedProblems ? $"; and {Problems.Count - ListedProblems} more" : "");

    private const int ListedProblems = 3;

    private static string Describe(string adapterName, string directory, IReadOnlyList<string> problems) =>
        $"Adapter '{adapterName}' at '{directory}' is invalid ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}):"
        + string.Concat(problems.Select(problem => Environment.NewLine + " - " + problem));
}
