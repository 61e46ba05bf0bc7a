using System.Text.Json;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// Finds a JSON string (or key) that is valid JSON but no text: an escaped UTF-16 surrogate without its pair, such as
/// <c>"\ud800"</c>, or bytes that are not UTF-8. System.Text.Json parses it and only throws (InvalidOperationException) when the string is read, which
/// deep in a request reader would be a 500; the body is checked once, up front, so it is a 400 naming the field.
/// </summary>
internal static class UnreadableStrings
{
    /// <summary>The OpenAI path of the first unreadable string ("messages[0].content"; "body" for a top-level key), or null.</summary>
    public static string? FirstIn(JsonElement body) => Find(body, "");

    private static string? Find(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return Readable(element.GetString) ? null : Named(path);
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (!Readable(() => property.Name))
                    {
                        return Named(path);
                    }

                    if (Find(property.Value, path.Length == 0 ? property.Name : $"{path}.{property.Name}") is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (Find(item, $"{Named(path)}[{index++}]") is { } found)
                    {
                        return found;
                    }
                }

                return null;
            default:
                return null;
        }
    }

    private static string Named(string path) => path.Length == 0 ? "body" : path;

    private static bool Readable(Func<string?> read)
    {
        try
        {
            read();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
