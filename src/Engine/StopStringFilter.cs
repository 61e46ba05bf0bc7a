namespace InferServer.Engine;

/// <summary>
/// Applies stop strings to streamed text: text is released only once it can no longer turn out to be the start of a
/// stop string, and a completed stop string ends generation without being emitted (OpenAI and vLLM semantics).
/// </summary>
internal sealed class StopStringFilter(IReadOnlyList<string> stopStrings)
{
    private readonly string[] stops = stopStrings.Where(s => s.Length > 0).ToArray();
    private string pending = "";

    /// <summary>True once a stop string has been seen; later input is ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds newly decoded text; returns what is safe to emit now.</summary>
    public string Push(string text)
    {
        if (Stopped || text.Length == 0)
        {
            return "";
        }

        if (stops.Length == 0)
        {
            return text;
        }

        pending += text;
        var earliest = -1;
        foreach (var stop in stops)
        {
            var at = pending.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (earliest < 0 || at < earliest))
            {
                earliest = at;
            }
        }
        if (earliest >= 0)
        {
            Stopped = true;
            var before = pending[..earliest];
            pending = "";
            return before;
        }
        var keep = LongestSuffixThatStartsAStop(pending);
        var release = pending[..^keep];
        pending = pending[^keep..];
        return release;
    }

    /// <summary>At the end of generation: whatever was held back (it never completed a stop string).</summary>
    public string Flush()
    {
        var rest = Stopped ? "" : pending;
        pending = "";
        return rest;
    }

    private int LongestSuffixThatStartsAStop(string text)
    {
        var longest = 0;
        foreach (var stop in stops)
        {
            for (var length = Math.Min(stop.Length - 1, text.Length); length > longest; length--)
            {
                if (string.CompareOrdinal(text, text.Length - length, stop, 0, length) == 0)
                {
                    longest = length;
                    break;
                }
            }
        }
        return longest;
    }
}
