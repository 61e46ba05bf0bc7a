namespace InferServer.Jinja;

/// <summary>
/// Variables visible at one point of a render. Jinja scoping: the template's top level (if blocks included) is one
/// scope; each for-loop iteration, macro call and with block gets a child, so a {% set %} inside a loop is gone after
/// it (which is why templates carry loop state in a namespace).
/// </summary>
internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, object?> variables = new(StringComparer.Ordinal);

    public bool TryLookup(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            if (scope.variables.TryGetValue(name, out value))
            {
                return true;
            }
        }
        value = null;
        return false;
    }

    public Scope? Parent { get; } = parent;

    public void Set(string name, object? value) => variables[name] = value;
}
