namespace InferServer.Kernels.Structured;

/// <summary>
/// A compiled schema (<see cref="JsonSchemaCompiler"/>): immutable, shared by every request that sends the same schema
/// text. A request walks it with its own <see cref="JsonGrammarMatcher"/>.
/// </summary>
public sealed class JsonGrammar
{
    internal JsonGrammar(SchemaNode root, string source)
    {
        Root = root;
        Start = GrammarState.Start(root);
        Source = source;
    }

    internal SchemaNode Root { get; }

    /// <summary>The state before the first byte.</summary>
    public GrammarState Start { get; }

    /// <summary>The schema text it was compiled from (with its fixed opening and closing text, when it has them: the cache key).</summary>
    public string Source { get; }

    /// <summary>A matcher at the start of the value.</summary>
    public JsonGrammarMatcher NewMatcher() => new(Start);
}
