namespace InferServer.Server.Api;

/// <summary>
/// Size bounds on every error a client receives. gRPC sends the status message and its details
/// (grpc-status-details-bin) as response metadata, and clients cap metadata (Python grpcio: 8 KB by default, then it
/// reports RESOURCE_EXHAUSTED "received initial metadata size exceeds limit" instead of our status). An adapter with
/// hundreds of problems would exceed that. So a message keeps at most <see cref="MaxMessageChars"/> characters and a
/// list at most <see cref="MaxListed"/> entries, the last one saying how many more the server log has; each entry at
/// most <see cref="MaxEntryChars"/>. Bounding is idempotent, so layers may apply it again.
/// </summary>
public static class ErrorBounds
{
    public const int MaxMessageChars = 1024;
    public const int MaxListed = 5;
    public const int MaxEntryChars = 300;

    /// <summary><paramref name="text"/> cut to <paramref name="max"/> characters, marked with an ellipsis when cut.</summary>
    public static string Text(string text, int max = MaxMessageChars) =>
        text.Length <= max ? text : string.Concat(text.AsSpan(0, max - 1), "…");

    /// <summary>At most <see cref="MaxListed"/> problems, each bounded; the last says how many were left out.</summary>
    public static IReadOnlyList<string> Problems(IReadOnlyList<string> problems) =>
        Bound(problems, problem => Text(problem, MaxEntryChars), omitted => $"and {omitted} more; the server log lists them all");

    /// <summary>At most <see cref="MaxListed"/> field violations, each bounded; the last says how many were left out.</summary>
    public static IReadOnlyList<FieldViolation> Violations(IReadOnlyList<FieldViolation> violations) =>
        Bound(violations, violation => new FieldViolation(Text(violation.Field, MaxEntryChars), Text(violation.Problem, MaxEntryChars)),
            omitted => new FieldViolation("", $"and {omitted} more problems"));

    private static IReadOnlyList<T> Bound<T>(IReadOnlyList<T> items, Func<T, T> bound, Func<int, T> more)
    {
        if (items.Count <= MaxListed)
        {
            return items.Select(bound).ToList();
        }

        var kept = MaxListed - 1;
        return [.. items.Take(kept).Select(bound), more(items.Count - kept)];
    }
}
