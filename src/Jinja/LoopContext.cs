namespace InferServer.Jinja;

/// <summary>The <c>loop</c> variable of a for loop.</summary>
internal sealed class LoopContext(IReadOnlyList<object?> items, int depth)
{
    public int Index0 { get; set; }

    public object? Attribute(string name) => name switch
    {
        "index" => (long)Index0 + 1,
        "index0" => (long)Index0,
        "revindex" => (long)(items.Count - Index0),
        "revindex0" => (long)(items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == items.Count - 1,
        "length" => (long)items.Count,
        "depth" => (long)depth,
        "depth0" => (long)depth - 1,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : Undefined.Attribute(this, "previtem"),
        "nextitem" => Index0 < items.Count - 1 ? items[Index0 + 1] : Undefined.Attribute(this, "nextitem"),
        "cycle" => new JinjaFunction("loop.cycle", arguments =>
            arguments.Positional.Count == 0 ? throw new JinjaError("no items for cycling given") : arguments.Positional[Index0 % arguments.Positional.Count]),
        _ => Undefined.Attribute(this, name),
    };
}
