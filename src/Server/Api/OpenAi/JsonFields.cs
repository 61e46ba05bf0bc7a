using System.Text.Json;
using InferServer.Engine;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// Typed, checked reads of one JSON object against an explicit allow-list: a key outside the list is refused by name
/// (never silently ignored), a value of the wrong type names its field, and null reads as absent (OpenAI's clients
/// send null for "default"). Every failure is a <see cref="RequestValidationException"/> whose field is the OpenAI name.
/// </summary>
internal sealed class JsonFields
{
    private readonly Dictionary<string, JsonElement> values = new(StringComparer.Ordinal);
    private readonly string prefix;

    public JsonFields(JsonElement element, IReadOnlySet<string> allowed, string prefix = "")
    {
        this.prefix = prefix;
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new RequestValidationException(prefix.Length == 0 ? "body" : prefix.TrimEnd('.'), "must be a JSON object");
        }

        foreach (var property in element.EnumerateObject())
        {
            if (!allowed.Contains(property.Name))
            {
                throw new RequestValidationException(prefix + property.Name, OpenAiErrors.UnsupportedProblem);
            }

            if (property.Value.ValueKind != JsonValueKind.Null)
            {
                values[property.Name] = property.Value;
            }
        }
    }

    public bool Has(string name) => values.ContainsKey(name);

    public JsonElement? Element(string name) => values.TryGetValue(name, out var value) ? value : null;

    public string? String(string name) => Element(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } value => value.GetString(),
        _ => throw Invalid(name, "must be a string"),
    };

    public bool? Bool(string name) => Element(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw Invalid(name, "must be true or false"),
    };

    public double? Number(string name) => Element(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } value => value.GetDouble(),
        _ => throw Invalid(name, "must be a number"),
    };

    public long? Integer(string name) => Element(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } value when value.TryGetInt64(out var integer) => integer,
        _ => throw Invalid(name, "must be an integer"),
    };

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int? Integer(string name, int min, int max) => Integer(name) switch
    {
        null => null,
        var value when value >= min && value <= max => (int)value,
        var value => throw Invalid(name, $"must be in [{min}, {max}], got {value}"),
    };

    /// <summary>A string, or a list of strings (OpenAI's <c>stop</c>).</summary>
    public IReadOnlyList<string>? Strings(string name) => Element(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } value => [value.GetString()!],
        { ValueKind: JsonValueKind.Array } array => [.. array.EnumerateArray().Select((item, i) => item.ValueKind == JsonValueKind.String
            ? item.GetString()!
            : throw Invalid($"{name}[{i}]", "must be a string"))],
        _ => throw Invalid(name, "must be a string or a list of strings"),
    };

    /// <summary>A list of non-negative 32-bit integers (token ids).</summary>
    public IReadOnlyList<int>? TokenIds(string name) => Element(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Array } array => ReadTokenIds(array, prefix + name),
        _ => throw Invalid(name, "must be a list of token ids"),
    };

    /// <summary>The token ids of <paramref name="array"/>, each a non-negative 32-bit integer.</summary>
    public static int[] ReadTokenIds(JsonElement array, string field) =>
    [
        .. array.EnumerateArray().Select((item, i) => item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out var id) && id >= 0
            ? id
            : throw new RequestValidationException($"{field}[{i}]", "must be a non-negative integer token id")),
    ];

    public RequestValidationException Invalid(string name, string problem) => new(prefix + name, problem);
}
