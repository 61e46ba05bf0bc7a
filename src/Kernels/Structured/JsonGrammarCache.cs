namespace InferServer.Kernels.Structured;

/// <summary>
/// Compiled schemas by their text, so a schema sent with every request compiles once. Bounded
/// (<see cref="StructuredLimits.MaxCachedGrammars"/>, least recently used out); refusals are not cached. Thread-safe.
/// </summary>
public static class JsonGrammarCache
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, LinkedListNode<JsonGrammar>> Entries = new(StringComparer.Ordinal);
    private static readonly LinkedList<JsonGrammar> Recency = new();

    /// <summary>The grammar of <paramref name="schemaText"/>, between <paramref name="prefix"/> and <paramref name="suffix"/>
    /// when given (<see cref="JsonSchemaCompiler.Compile(string, string, string)"/>); throws <see cref="UnsupportedSchemaException"/>.</summary>
    public static JsonGrammar Get(string schemaText, string prefix = "", string suffix = "")
    {
        var key = JsonSchemaCompiler.CacheKey(schemaText, prefix, suffix);
        lock (Gate)
        {
            if (Entries.TryGetValue(key, out var hit))
            {
                Recency.Remove(hit);
                Recency.AddFirst(hit);
                return hit.Value;
            }
        }
        var grammar = JsonSchemaCompiler.Compile(schemaText, prefix, suffix);
        lock (Gate)
        {
            if (Entries.TryGetValue(key, out var raced))
            {
                return raced.Value;
            }

            Entries[key] = Recency.AddFirst(grammar);
            if (Entries.Count > StructuredLimits.MaxCachedGrammars)
            {
                Entries.Remove(Recency.Last!.Value.Source);
                Recency.RemoveLast();
            }
        }
        return grammar;
    }
}
