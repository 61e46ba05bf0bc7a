using System.Text.RegularExpressions;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// How the OpenAI-compatible port names a field that the shared validation or the engine reported: the validation names
/// fields once, in the API's own terms (the proto's field paths: "params.sampling.top_p", "texts[1]",
/// "messages[2].tool_calls[0].arguments"), and each front door spells them as its bodies do. Each endpoint picks its
/// spelling, because the same field has different names in different OpenAI bodies (the texts of /classify and
/// /v1/embeddings are "input"; the token limit of chat is max_tokens or max_completion_tokens, whichever was sent).
/// </summary>
public static partial class OpenAiFieldNames
{
    [GeneratedRegex(@"^((?:messages\[\d+\]\.)?tool(?:s|_calls)\[\d+\])\.(name|description|parameters|arguments)$")]
    private static partial Regex ToolField();

    [GeneratedRegex(@"^texts(\[\d+\])?$")]
    private static partial Regex TextsField();

    /// <summary>
    /// The generation endpoints' names ("params.sampling.top_p" → "top_p", "params.max_new_tokens" → the token-limit
    /// field the body used, "text" → "prompt"); other endpoints without texts use them too.
    /// </summary>
    /// <param name="maxTokensField">Which field set the token limit (max_tokens when none did).</param>
    /// <param name="chat">Chat names logprobs and top_logprobs apart; completions has one logprobs field for both.</param>
    public static Func<string, string> Of(string? maxTokensField, bool chat) => field => Generation(field, maxTokensField, chat);

    /// <summary>The names of /classify and /v1/embeddings, whose texts are the body's "input" (texts[1] → input[1]).</summary>
    public static string Texts(string field) =>
        TextsField().Match(field) is { Success: true } texts ? "input" + texts.Groups[1].Value : Generation(field, null, chat: false);

    private static string Generation(string field, string? maxTokensField, bool chat)
    {
        if (field == "params.response_format.json_schema")
        {
            // The gRPC field holds the schema text, which OpenAI's body nests one level deeper.
            return "response_format.json_schema.schema";
        }

        // A tool's and a tool call's name, parameters and arguments sit under "function" in OpenAI's body.
        if (ToolField().Match(field) is { Success: true } tool)
        {
            return $"{tool.Groups[1].Value}.function.{tool.Groups[2].Value}";
        }

        var name = field.StartsWith("params.sampling.", StringComparison.Ordinal) ? field["params.sampling.".Length..]
            : field.StartsWith("params.", StringComparison.Ordinal) ? field["params.".Length..]
            : field;
        return name switch
        {
            "max_new_tokens" => maxTokensField ?? "max_tokens",
            // A chat's prompt is rendered from its messages, which are what the client sent (and can shorten).
            "text" or "prompt" when chat => "messages",
            // prompt_token_ids: the engine's own name for ids it finds outside the vocabulary.
            "text" or "token_ids.ids" or "prompt_token_ids" => "prompt",
            "adapter" => "model",
            "logprobs" or "top_logprobs" => chat ? name : "logprobs",
            _ when name.StartsWith("stop[", StringComparison.Ordinal) => "stop",
            _ => name,
        };
    }
}
