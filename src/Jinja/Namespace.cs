namespace InferServer.Jinja;

/// <summary>jinja2's namespace(): the one object whose attributes {% set ns.attr = … %} may change, so that a loop
/// can carry state out of its scope.</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}
