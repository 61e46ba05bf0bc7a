using System.Collections.Concurrent;

namespace InferServer.Jinja;

/// <summary>
/// Parsed templates by source text, so a model's chat template is parsed once, not per request. A template that
/// fails to parse is cached as its failure. The cache is small (a server has one model, plus whatever tests parse);
/// when it is full it starts over.
/// </summary>
public static class JinjaTemplateCache
{
    private const int Capacity = 64;

    private static readonly ConcurrentDictionary<string, Lazy<JinjaTemplate>> Templates = new(StringComparer.Ordinal);

    /// <summary>The parsed template; throws the <see cref="TemplateSyntaxException"/> parsing it gave.</summary>
    public static JinjaTemplate Get(string source)
    {
        if (Templates.TryGetValue(source, out var cached))
        {
            return cached.Value;
        }

        if (Templates.Count >= Capacity)
        {
            Templates.Clear();
        }

        return Templates.GetOrAdd(source, text => new Lazy<JinjaTemplate>(() => JinjaTemplate.Parse(text))).Value;
    }
}
