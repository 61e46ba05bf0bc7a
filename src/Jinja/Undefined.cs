namespace InferServer.Jinja;

/// <summary>
/// jinja2's default Undefined: a missing variable, attribute or item. It prints as nothing, is false, iterates as
/// empty and has length 0, but any attribute, item, call or arithmetic on it fails with <see cref="Message"/>.
/// </summary>
internal sealed class Undefined(string message)
{
    public string Message { get; } = message;

    public static Undefined Variable(string name) => new($"'{name}' is undefined");

    public static Undefined Attribute(object? owner, string name) => new($"{JinjaValues.ObjectDescription(owner)} has no attribute '{name}'");

    public static Undefined Item(object? owner, object? key) => new($"{JinjaValues.ObjectDescription(owner).Trim('\'')} has no element {JinjaValues.Repr(key)}");

    public JinjaError Fail() => new(Message);

    public override string ToString() => "";
}
