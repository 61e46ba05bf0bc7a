namespace InferServer.AdapterStore;

/// <summary>
/// Adapters named by Adapters:Preload could not be loaded, so the server must not start. The message names the first
/// few and counts the rest, so that it stays one readable line however long the list (an AggregateException's message
/// and log entry repeat every inner message and stack); <see cref="Failures"/> holds them all.
/// </summary>
public sealed class AdapterPreloadException(IReadOnlyList<KeyValuePair<string, Exception>> failures)
    : Exception(Describe(failures), failures.Count > 0 ? failures[0].Value : null)
{
    private const int Named = 5;
    private const int MaxReasonChars = 200;

    /// <summary>Each adapter that failed, in preload order, with why.</summary>
    public IReadOnlyList<KeyValuePair<string, Exception>> Failures { get; } = failures;

    private static string Describe(IReadOnlyList<KeyValuePair<string, Exception>> failures)
    {
        var named = failures.Take(Named).Select(failure => $"{failure.Key} ({Shorten(failure.Value.Message)})");
        var rest = failures.Count > Named ? $"; and {failures.Count - Named} more" : "";
        return $"{failures.Count} preloaded adapter(s) could not be loaded: {string.Join("; ", named)}{rest}";
    }

    private static string Shorten(string reason)
    {
        var line = reason.ReplaceLineEndings(" ");
        return line.Length <= MaxReasonChars ? line : line[..MaxReasonChars] + "…";
    }
}
