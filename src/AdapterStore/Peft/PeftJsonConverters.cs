using System.Text.Json;
using System.Text.Json.Serialization;

namespace InferServer.AdapterStore.Peft;

/// <summary>Reads <c>target_modules</c> (also <c>exclude_modules</c>): a JSON list of names or one regex string.</summary>
internal sealed class PeftTargetModulesConverter : JsonConverter<PeftTargetModules>
{
    public override PeftTargetModules? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.Null => null,
            JsonTokenType.String => new PeftTargetModules(null, reader.GetString()),
            JsonTokenType.StartArray => new PeftTargetModules(JsonSerializer.Deserialize<List<string>>(ref reader, options), null),
            _ => throw new JsonException($"expected a list of module names or a regex string, found {reader.TokenType}"),
        };

    public override void Write(Utf8JsonWriter writer, PeftTargetModules value, JsonSerializerOptions options)
    {
        if (value.Names is not null)
        {
            JsonSerializer.Serialize(writer, value.Names, options);
        }
        else
        {
            writer.WriteStringValue(value.Pattern);
        }
    }
}

/// <summary>Reads <c>layers_to_transform</c>, which PEFT accepts as one int or a list of ints.</summary>
internal sealed class IntOrIntListConverter : JsonConverter<IReadOnlyList<int>>
{
    public override IReadOnlyList<int>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.Null => null,
            JsonTokenType.Number => [reader.GetInt32()],
            JsonTokenType.StartArray => JsonSerializer.Deserialize<List<int>>(ref reader, options),
            _ => throw new JsonException($"expected an int or a list of ints, found {reader.TokenType}"),
        };

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<int> value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value, options);
}

/// <summary>Reads <c>layers_pattern</c>, which PEFT accepts as one string or a list of strings.</summary>
internal sealed class StringOrStringListConverter : JsonConverter<IReadOnlyList<string>>
{
    public override IReadOnlyList<string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.Null => null,
            JsonTokenType.String => [reader.GetString()!],
            JsonTokenType.StartArray => JsonSerializer.Deserialize<List<string>>(ref reader, options),
            _ => throw new JsonException($"expected a string or a list of strings, found {reader.TokenType}"),
        };

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<string> value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value, options);
}

/// <summary>
/// Reads <c>rank_pattern</c>/<c>alpha_pattern</c> keeping the file's key order, because PEFT uses the first pattern
/// that matches and a dictionary does not promise an order.
/// </summary>
internal sealed class OrderedPatternConverter : JsonConverter<IReadOnlyList<KeyValuePair<string, double>>>
{
    public override IReadOnlyList<KeyValuePair<string, double>>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"expected an object of pattern: number, found {reader.TokenType}");
        }

        var patterns = new List<KeyValuePair<string, double>>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var pattern = reader.GetString()!;
            reader.Read();
            patterns.Add(new(pattern, reader.GetDouble()));
        }

        return patterns;
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<KeyValuePair<string, double>> value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach (var (pattern, number) in value)
        {
            writer.WriteNumber(pattern, number);
        }

        writer.WriteEndObject();
    }
}
