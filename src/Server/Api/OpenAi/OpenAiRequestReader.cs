using System.Text.Json;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// Parses OpenAI request bodies against explicit allow-lists into the server's own request types (<see cref="GenerationOptions"/>,
/// <see cref="Conversation"/>, <see cref="TokenizeInput"/>), which the shared validation checks for both front doors. Every field a client may send is listed here; any other is refused
/// by name (HTTP 400 with <c>param</c>), because a silently ignored field (logit_bias, tools…) changes
/// what the client believes it asked for. Ranges are left to the shared validation, except where only the OpenAI form
/// can be judged (types, n, the prompt's shape).
/// </summary>
public static class OpenAiRequestReader
{
    private static readonly string[] SharedFields =
    [
        "model", "max_tokens", "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty",
        "repetition_penalty", "seed", "stop", "stop_token_ids", "ignore_eos", "n", "logprobs", "stream", "stream_options", "user",
        "response_format",
    ];

    /// <summary>Fields of /v1/completions (OpenAI's, plus vLLM's sampling extensions top_k, min_p, repetition_penalty, stop_token_ids, ignore_eos).</summary>
    public static readonly IReadOnlySet<string> CompletionFields = new HashSet<string>([.. SharedFields, "prompt"], StringComparer.Ordinal);

    /// <summary>Fields of /v1/chat/completions; chat_template is empty or "model" for the model's own (Jinja) template,
    /// or names a built-in one (see <see cref="ChatTemplates"/>); chat_template_kwargs are extra variables for the model's template, as vLLM takes them.</summary>
    public static readonly IReadOnlySet<string> ChatFields =
        new HashSet<string>([.. SharedFields, "messages", "max_completion_tokens", "top_logprobs", "chat_template", "chat_template_kwargs",
            "tools", "tool_choice", "parallel_tool_calls"], StringComparer.Ordinal);

    /// <summary>Fields of /v1/embeddings (OpenAI's; token-id input is not accepted).</summary>
    public static readonly IReadOnlySet<string> EmbeddingFields =
        new HashSet<string>(["model", "input", "encoding_format", "dimensions", "user"], StringComparer.Ordinal);

    /// <summary>Fields of /classify (vLLM's, for text input; token-id input is not accepted).</summary>
    public static readonly IReadOnlySet<string> ClassifyFields = new HashSet<string>(["model", "input", "user"], StringComparer.Ordinal);

    /// <summary>Fields of /tokenize (vLLM's: a prompt, or messages with the chat template's options).</summary>
    public static readonly IReadOnlySet<string> TokenizeFields = new HashSet<string>(
        ["model", "prompt", "messages", "add_special_tokens", "add_generation_prompt", "chat_template"], StringComparer.Ordinal);

    /// <summary>Fields of /detokenize.</summary>
    public static readonly IReadOnlySet<string> DetokenizeFields = new HashSet<string>(["model", "tokens"], StringComparer.Ordinal);

    private static readonly IReadOnlySet<string> ResponseFormatFields = new HashSet<string>(["type", "json_schema"], StringComparer.Ordinal);
    private static readonly IReadOnlySet<string> JsonSchemaFields = new HashSet<string>(["name", "description", "schema", "strict"], StringComparer.Ordinal);
    private static readonly IReadOnlySet<string> StreamOptionFields = new HashSet<string>(["include_usage"], StringComparer.Ordinal);
    private static readonly IReadOnlySet<string> MessageFields = new HashSet<string>(["role", "content", "refusal", "parsed", "tool_calls", "tool_call_id"], StringComparer.Ordinal);
    private static readonly IReadOnlySet<string> ToolFields = new HashSet<string>(["type", "function"], StringComparer.Ordinal);
    private static readonly IReadOnlySet<string> FunctionFields = new HashSet<string>(["name", "description", "parameters", "strict"], StringComparer.Ordinal);
    private static readonly IReadOnlySet<string> ToolCallFields = new HashSet<string>(["id", "type", "function"], StringComparer.Ordinal);
    // parsed_arguments (and a message's parsed): what the openai clients' stream helpers add to the message they hand
    // back, which an agent echoes into the next request as it is.
    private static readonly IReadOnlySet<string> CallFunctionFields = new HashSet<string>(["name", "arguments", "parsed_arguments"], StringComparer.Ordinal);
    private static readonly IReadOnlySet<string> NamedChoiceFields = new HashSet<string>(["type", "function"], StringComparer.Ordinal);
    private static readonly IReadOnlySet<string> NamedChoiceFunctionFields = new HashSet<string>(["name"], StringComparer.Ordinal);
    private static readonly IReadOnlySet<string> ContentPartFields = new HashSet<string>(["type", "text"], StringComparer.Ordinal);
    private static readonly IReadOnlySet<string> LoadFields = new HashSet<string>(["lora_name", "lora_path", "load_inplace"], StringComparer.Ordinal);
    private static readonly IReadOnlySet<string> UnloadFields = new HashSet<string>(["lora_name"], StringComparer.Ordinal);

    /// <summary>A /v1/completions body.</summary>
    public static CompletionCall ReadCompletion(JsonElement body, ApiOptions limits)
    {
        var fields = new JsonFields(body, CompletionFields);
        var prompts = ReadPrompts(fields);
        // OpenAI's completions logprobs is the number of alternatives (0 = only the chosen token's logprob).
        var logprobs = fields.Integer("logprobs", 0, Kernels.Sampling.SamplingParameters.MaxTopLogprobs);
        var common = ReadCommon(fields, prompts.Count, limits, "max_tokens");
        if (logprobs is { } count)
        {
            common = common with { Params = common.Params with { Logprobs = true, TopLogprobs = count } };
        }
        return new CompletionCall(common, prompts);
    }

    /// <summary>A /v1/chat/completions body.</summary>
    public static ChatCompletionCall ReadChat(JsonElement body, ApiOptions limits)
    {
        var fields = new JsonFields(body, ChatFields);
        var maxTokens = fields.Integer("max_tokens");
        var maxCompletionTokens = fields.Integer("max_completion_tokens");
        if (maxTokens is not null && maxCompletionTokens is not null && maxTokens != maxCompletionTokens)
        {
            throw fields.Invalid("max_completion_tokens", "conflicts with max_tokens; send one of them (max_tokens is deprecated)");
        }

        var common = ReadCommon(fields, prompts: 1, limits, maxCompletionTokens is null ? "max_tokens" : "max_completion_tokens");
        common = common with
        {
            Params = common.Params with
            {
                Logprobs = fields.Bool("logprobs") ?? false,
                TopLogprobs = fields.Integer("top_logprobs", 0, Kernels.Sampling.SamplingParameters.MaxTopLogprobs) ?? 0,
            },
        };
        var messages = fields.Element("messages") is { ValueKind: JsonValueKind.Array } array
            ? array.EnumerateArray().Select(ReadMessage).ToList()
            : throw fields.Invalid("messages", "is required: a list of {role, content} messages");
        var kwargs = fields.Element("chat_template_kwargs") switch
        {
            null or { ValueKind: JsonValueKind.Null } => null,
            { ValueKind: JsonValueKind.Object } value => TemplateVariables(value),
            _ => throw fields.Invalid("chat_template_kwargs", "must be an object of template variables, e.g. {\"enable_thinking\": false}"),
        };
        var tools = fields.Element("tools") switch
        {
            null => [],
            { ValueKind: JsonValueKind.Array } list => list.EnumerateArray().Select(ReadTool).ToList(),
            _ => throw fields.Invalid("tools", "must be a list of {type: \"function\", function: {name, description?, parameters?}}"),
        };
        var chatTemplate = fields.String("chat_template") ?? "";
        return new ChatCompletionCall(common, new Conversation(messages)
        {
            ChatTemplate = chatTemplate,
            TemplateKwargs = kwargs,
            Tools = tools,
            ToolChoice = fields.Element("tool_choice") is { } choice ? ReadToolChoice(choice) : ToolChoicePolicy.Unset,
            ParallelToolCalls = fields.Bool("parallel_tool_calls") ?? true,
        });
    }

    /// <summary>A /v1/embeddings body, under Classify's limits on texts.</summary>
    public static EmbeddingCall ReadEmbedding(JsonElement body, ApiOptions limits)
    {
        var fields = new JsonFields(body, EmbeddingFields);
        var model = fields.String("model") ?? throw fields.Invalid("model", "is required");
        IReadOnlyList<string> input = fields.Element("input") switch
        {
            null => throw fields.Invalid("input", "is required"),
            { ValueKind: JsonValueKind.String } text => [text.GetString()!],
            { ValueKind: JsonValueKind.Array } array when array.EnumerateArray().All(item => item.ValueKind == JsonValueKind.String) =>
                [.. array.EnumerateArray().Select(item => item.GetString()!)],
            _ => throw fields.Invalid("input", "must be a string or a list of strings (token-id input is not supported)"),
        };
        InvalidRequestException.ThrowIfAny(ClassificationMapper.TextViolations(input, limits));
        var format = fields.String("encoding_format") ?? "float";
        if (format is not ("float" or "base64"))
        {
            throw fields.Invalid("encoding_format", $"must be \"float\" or \"base64\", not \"{format}\"");
        }

        var dimensions = fields.Integer("dimensions", 1, int.MaxValue);
        return new EmbeddingCall(model, input, format == "base64", dimensions, fields.String("user"));
    }

    /// <summary>A /classify body (vLLM's): {model, input: a string or a list of strings, user?}.</summary>
    public static ClassifyCall ReadClassify(JsonElement body, ApiOptions limits)
    {
        var fields = new JsonFields(body, ClassifyFields);
        var model = fields.String("model") ?? throw fields.Invalid("model", "is required");
        IReadOnlyList<string> input = fields.Element("input") switch
        {
            null => throw fields.Invalid("input", "is required"),
            { ValueKind: JsonValueKind.String } text => [text.GetString()!],
            { ValueKind: JsonValueKind.Array } array when array.EnumerateArray().All(item => item.ValueKind == JsonValueKind.String) =>
                [.. array.EnumerateArray().Select(item => item.GetString()!)],
            _ => throw fields.Invalid("input", "must be a string or a list of strings (token-id input is not supported)"),
        };
        InvalidRequestException.ThrowIfAny(ClassificationMapper.TextViolations(input, limits));
        return new ClassifyCall(model, input, fields.String("user"));
    }

    /// <summary>A /tokenize body, with the model it names (the input's adapter is left empty).</summary>
    public static (string Model, TokenizeInput Input) ReadTokenize(JsonElement body)
    {
        var fields = new JsonFields(body, TokenizeFields);
        var model = RequiredString(fields, "model");
        var chatTemplate = fields.String("chat_template") ?? "";
        if (fields.Has("prompt") == fields.Has("messages"))
        {
            throw fields.Invalid(fields.Has("prompt") ? "messages" : "prompt", "give exactly one of prompt and messages");
        }

        IReadOnlyList<ChatTurn> messages = [];
        var text = "";
        if (fields.Element("messages") is { } list)
        {
            messages = list.ValueKind == JsonValueKind.Array
                ? [.. list.EnumerateArray().Select(ReadMessage)]
                : throw fields.Invalid("messages", "must be a list of {role, content} messages");
        }
        else
        {
            text = fields.String("prompt") ?? "";
        }

        var addSpecialTokens = fields.Bool("add_special_tokens");
        var addGenerationPrompt = fields.Bool("add_generation_prompt");
        return (model, new TokenizeInput("", text, messages, chatTemplate, addSpecialTokens, addGenerationPrompt));
    }

    /// <summary>A /detokenize body: the model it names and the token ids.</summary>
    public static (string Model, IReadOnlyList<int> Tokens) ReadDetokenize(JsonElement body)
    {
        var fields = new JsonFields(body, DetokenizeFields);
        var model = RequiredString(fields, "model");
        var tokens = fields.TokenIds("tokens") ?? throw fields.Invalid("tokens", "is required: a list of token ids");
        return (model, tokens);
    }

    /// <summary>A /v1/load_lora_adapter body (vLLM's names; load_inplace = reload).</summary>
    public static LoadLoraAdapterCall ReadLoad(JsonElement body)
    {
        var fields = new JsonFields(body, LoadFields);
        return new LoadLoraAdapterCall(
            RequiredString(fields, "lora_name"), RequiredString(fields, "lora_path"), fields.Bool("load_inplace") ?? false);
    }

    /// <summary>The lora_name of a /v1/unload_lora_adapter body.</summary>
    public static string ReadUnload(JsonElement body) => RequiredString(new JsonFields(body, UnloadFields), "lora_name");

    private static OpenAiCommon ReadCommon(JsonFields fields, int prompts, ApiOptions limits, string maxTokensField)
    {
        var model = RequiredString(fields, "model");
        var choices = fields.Integer("n", 1, limits.OpenAiMaxChoices) ?? 1;
        if (choices * prompts > limits.OpenAiMaxChoices)
        {
            throw fields.Invalid("n", $"{prompts} prompts × n = {choices * prompts} choices exceed the limit of {limits.OpenAiMaxChoices}");
        }

        var stream = fields.Bool("stream") ?? false;
        var includeUsage = false;
        if (fields.Element("stream_options") is { } streamOptions)
        {
            if (!stream)
            {
                throw fields.Invalid("stream_options", "is only allowed when stream is true");
            }

            includeUsage = new JsonFields(streamOptions, StreamOptionFields, "stream_options.").Bool("include_usage") ?? false;
        }

        var parameters = new GenerationOptions();
        // 0 means "the server's default" in the API; an explicit 0 here is a mistake, not a request for the default.
        if (fields.Integer(maxTokensField) is { } maxTokens)
        {
            parameters = parameters with
            {
                MaxNewTokens = maxTokens is >= 1 and <= int.MaxValue ? (int)maxTokens : throw fields.Invalid(maxTokensField, $"must be at least 1, got {maxTokens}"),
            };
        }

        parameters = parameters with { Temperature = fields.Number("temperature"), TopP = fields.Number("top_p") };
        // vLLM spells "off" as -1; the API as 0.
        if (fields.Integer("top_k") is { } topK)
        {
            parameters = parameters with
            {
                TopK = topK == -1 ? 0 : topK is >= 0 and <= int.MaxValue ? (int)topK : throw fields.Invalid("top_k", $"must be -1, 0 (off) or positive, got {topK}"),
            };
        }

        parameters = parameters with
        {
            MinP = fields.Number("min_p") ?? 0,
            PresencePenalty = fields.Number("presence_penalty") ?? 0,
            FrequencyPenalty = fields.Number("frequency_penalty") ?? 0,
            RepetitionPenalty = fields.Number("repetition_penalty"),
        };
        if (fields.Integer("seed") is { } seed)
        {
            parameters = parameters with { Seed = seed >= 0 ? (ulong)seed : throw fields.Invalid("seed", $"must not be negative, got {seed}") };
        }

        parameters = parameters with
        {
            Stop = fields.Strings("stop") ?? [],
            StopTokenIds = fields.TokenIds("stop_token_ids") ?? [],
            IgnoreEos = fields.Bool("ignore_eos") ?? false,
        };
        if (fields.Element("response_format") is { } format)
        {
            var (jsonObject, jsonSchema) = ReadResponseFormat(format);
            parameters = parameters with { JsonObject = jsonObject, JsonSchema = jsonSchema };
        }

        return new OpenAiCommon(model, parameters, choices, stream, includeUsage, fields.String("user"), maxTokensField);
    }

    // OpenAI's response_format: {"type": "text"}, {"type": "json_object"} or {"type": "json_schema", "json_schema": {name,
    // schema, strict?, description?}}. The schema is always enforced exactly (as strict: true), whatever strict says.
    private static (bool JsonObject, string JsonSchema) ReadResponseFormat(JsonElement element)
    {
        var fields = new JsonFields(element, ResponseFormatFields, "response_format.");
        var type = fields.String("type") ?? throw fields.Invalid("type", "is required: text, json_object or json_schema");
        if (type != "json_schema" && fields.Has("json_schema"))
        {
            throw fields.Invalid("json_schema", $"is only allowed with type json_schema, not {type}");
        }

        switch (type)
        {
            case "text":
                return (false, "");
            case "json_object":
                return (true, "");
            case "json_schema":
                var schemaFields = fields.Element("json_schema") is { } jsonSchema
                    ? new JsonFields(jsonSchema, JsonSchemaFields, "response_format.json_schema.")
                    : throw fields.Invalid("json_schema", "is required with type json_schema: {name, schema, strict}");
                RequiredString(schemaFields, "name");
                schemaFields.String("description");
                schemaFields.Bool("strict");
                var schema = schemaFields.Element("schema") is { ValueKind: JsonValueKind.Object or JsonValueKind.True } value
                    ? value.GetRawText()
                    : throw schemaFields.Invalid("schema", "is required: a JSON Schema object");
                return (false, schema);
            default:
                throw fields.Invalid("type", $"must be text, json_object or json_schema, not {type}");
        }
    }

    // OpenAI's four prompt forms: "text", ["text", ...], [id, ...], [[id, ...], ...]. Each list entry is a choice group.
    private static List<CompletionPrompt> ReadPrompts(JsonFields fields)
    {
        switch (fields.Element("prompt"))
        {
            case null:
                throw fields.Invalid("prompt", "is required");
            case { ValueKind: JsonValueKind.String } text:
                return [new CompletionPrompt(text.GetString(), null)];
            case { ValueKind: JsonValueKind.Array } array when array.GetArrayLength() == 0:
                throw fields.Invalid("prompt", "must not be an empty list");
            case { ValueKind: JsonValueKind.Array } array:
                var first = array[0].ValueKind;
                if (first == JsonValueKind.Number)
                {
                    return [new CompletionPrompt(null, JsonFields.ReadTokenIds(array, "prompt"))];
                }

                return [.. array.EnumerateArray().Select((item, i) => (first, item.ValueKind) switch
                {
                    (JsonValueKind.String, JsonValueKind.String) => new CompletionPrompt(item.GetString(), null),
                    (JsonValueKind.Array, JsonValueKind.Array) => new CompletionPrompt(null, JsonFields.ReadTokenIds(item, $"prompt[{i}]")),
                    _ => throw fields.Invalid($"prompt[{i}]", "a prompt list holds only strings, only token ids, or only token-id lists"),
                })];
            default:
                throw fields.Invalid("prompt", "must be a string, a list of strings, a list of token ids or a list of token-id lists");
        }
    }

    // OpenAI's tool: {"type": "function", "function": {name, description?, parameters?, strict?}}. The parameters are
    // always enforced when a call is forced, whatever strict says.
    private static FunctionTool ReadTool(JsonElement element, int index)
    {
        var fields = new JsonFields(element, ToolFields, $"tools[{index}].");
        if (fields.String("type") != "function")
        {
            throw fields.Invalid("type", "must be \"function\"");
        }

        var function = new JsonFields(fields.Element("function") ?? throw fields.Invalid("function", "is required: {name, description?, parameters?}"),
            FunctionFields, $"tools[{index}].function.");
        function.Bool("strict");
        var name = function.String("name") ?? "";
        var description = function.String("description") ?? "";
        var parameters = function.Element("parameters") is { } schema
            ? schema.ValueKind == JsonValueKind.Object ? schema.GetRawText() : throw function.Invalid("parameters", "must be a JSON Schema object")
            : "";
        return new FunctionTool(name, description, parameters);
    }

    // "none" | "auto" | "required" | {"type": "function", "function": {"name": …}}.
    private static ToolChoicePolicy ReadToolChoice(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.String)
        {
            return element.GetString() switch
            {
                "none" => new(ToolChoiceKind.None),
                "auto" => new(ToolChoiceKind.Auto),
                "required" => new(ToolChoiceKind.Required),
                var other => throw new Engine.RequestValidationException("tool_choice", $"must be none, auto, required or {{\"type\": \"function\", \"function\": {{\"name\": …}}}}, not \"{other}\""),
            };
        }

        var fields = new JsonFields(element, NamedChoiceFields, "tool_choice.");
        if (fields.String("type") != "function")
        {
            throw fields.Invalid("type", "must be \"function\"");
        }

        var function = new JsonFields(fields.Element("function") ?? throw fields.Invalid("function", "is required: {name}"), NamedChoiceFunctionFields, "tool_choice.function.");
        return new(ToolChoiceKind.Function, RequiredString(function, "name"));
    }

    private static FunctionCall ReadToolCall(JsonElement element, string prefix)
    {
        var fields = new JsonFields(element, ToolCallFields, prefix);
        if ((fields.String("type") ?? "function") != "function")
        {
            throw fields.Invalid("type", "must be \"function\"");
        }

        var function = new JsonFields(fields.Element("function") ?? throw fields.Invalid("function", "is required: {name, arguments}"), CallFunctionFields, prefix + "function.");
        var id = fields.String("id") ?? "";
        var name = function.String("name") ?? "";
        return new FunctionCall(id, name, function.String("arguments") ?? "");
    }

    private static ChatTurn ReadMessage(JsonElement element, int index)
    {
        var prefix = $"messages[{index}].";
        var fields = new JsonFields(element, MessageFields, prefix);
        var role = fields.String("role") ?? throw fields.Invalid("role", "is required");
        // "refusal" is an earlier reply's refusal and "parsed" the client's own reading of it, which clients echo back with
        // the assistant message; templates render neither, so they are dropped.
        fields.String("refusal");
        var toolCallId = fields.String("tool_call_id") ?? "";
        IReadOnlyList<FunctionCall> toolCalls = fields.Element("tool_calls") switch
        {
            null => [],
            { ValueKind: JsonValueKind.Array } calls => [.. calls.EnumerateArray().Select((call, i) => ReadToolCall(call, $"{prefix}tool_calls[{i}]."))],
            _ => throw fields.Invalid("tool_calls", "must be a list of {id, type: \"function\", function: {name, arguments}}"),
        };
        var content = fields.Element("content") switch
        {
            // An assistant message that only calls tools has no content.
            null when toolCalls.Count > 0 => "",
            null => throw fields.Invalid("content", "is required"),
            { ValueKind: JsonValueKind.String } text => text.GetString()!,
            // Content parts: only text parts can be served by a text model.
            { ValueKind: JsonValueKind.Array } parts => string.Concat(parts.EnumerateArray().Select((part, i) =>
            {
                var partFields = new JsonFields(part, ContentPartFields, $"{prefix}content[{i}].");
                if (partFields.String("type") != "text")
                {
                    throw partFields.Invalid("type", "only \"text\" content parts are supported");
                }

                return partFields.String("text") ?? throw partFields.Invalid("text", "is required");
            })),
            _ => throw fields.Invalid("content", "must be a string or a list of text parts"),
        };
        return new ChatTurn(role, content) { ToolCalls = toolCalls, ToolCallId = toolCallId };
    }

    // The template variables of chat_template_kwargs, each a JSON value (a repeated name keeps its last value, as
    // Python's json.loads does).
    private static Dictionary<string, JsonElement> TemplateVariables(JsonElement kwargs)
    {
        var variables = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var variable in kwargs.EnumerateObject())
        {
            variables[variable.Name] = variable.Value.Clone();
        }

        return variables;
    }

    private static string RequiredString(JsonFields fields, string name) =>
        fields.String(name) is { Length: > 0 } value ? value : throw fields.Invalid(name, "is required and must not be empty");
}
