using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Observability;

/// <summary>
/// Caps the cardinality of the "adapter" metrics label (see <see cref="ObservabilityOptions.AdapterLabelLimit"/>):
/// the first N adapter names that complete a request successfully keep their own value, every other name is
/// "other". Only successful requests admit a name, so unknown names sent by clients cannot use up the budget.
/// </summary>
public sealed class AdapterLabels(IOptions<ObservabilityOptions> options)
{
    /// <summary>The label value of requests without an adapter.</summary>
    public const string Base = "(base)";

    /// <summary>The label value of adapters beyond the limit (or not admitted).</summary>
    public const string Other = "other";

    private readonly int limit = options.Value.AdapterLabelLimit;
    private readonly ConcurrentDictionary<string, byte> admitted = new(StringComparer.Ordinal);

    /// <summary>The label for <paramref name="adapter"/>; <paramref name="succeeded"/> lets a new name claim a label.</summary>
    public string For(string? adapter, bool succeeded)
    {
        if (string.IsNullOrEmpty(adapter))
        {
            return Base;
        }

        if (admitted.ContainsKey(adapter))
        {
            return adapter;
        }
        // Racing admissions may overshoot the limit by the number of concurrent callers; that bound is fine.
        if (succeeded && admitted.Count < limit && admitted.TryAdd(adapter, 0))
        {
            return adapter;
        }

        return Other;
    }
}
