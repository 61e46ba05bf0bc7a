using System.Text;
using System.Text.Json;
using InferServer.Engine;
using InferServer.Jinja;

namespace InferServer.Server.Api;

/// <summary>
/// Renders chat messages to a prompt. By default (chat_template empty or "model") the model's own template, the Jinja
/// source in its tokenizer_config.json, is rendered as Hugging Face transformers' apply_chat_template renders it
/// (<see cref="JinjaTemplate"/>): with messages, bos_token, eos_token, add_generation_prompt=true, the request's tools
/// (none without) and documents none, plus the request's chat_template_kwargs (Qwen3's enable_thinking). A model without a template gets "chatml" when the request names none, and FAILED_PRECONDITION
/// when it asks for "model". A template that refuses the conversation (raise_exception: roles not alternating, a system message it has no place for) is
/// INVALID_ARGUMENT with the template's message; a template this server cannot parse or render is
/// FAILED_PRECONDITION. The built-ins can always be named instead. The response names the template used.
/// Tools (offered tools, assistant tool calls, tool results) are rendered as vLLM hands them to the template: tools in
/// OpenAI's {type, function} form, tool_calls with their arguments parsed to an object, tool_call_id on tool messages.
/// A conversation with tools needs a template that knows a tool-call syntax (<see cref="ToolCallFormat.Of"/>); the
/// built-ins render it through their tool forms (chatml: Hermes tags, llama3: Llama 3.3's own template).
/// </summary>
public static class ChatTemplates
{
    /// <summary>The request value that asks for the model's own template.</summary>
    public const string Model = "model";

    /// <summary>The built-in used when the model has no template and the request names none.</summary>
    public const string Default = "chatml";

    /// <summary>The built-in template names.</summary>
    public static readonly IReadOnlyList<string> BuiltIn = ["chatml", "llama3"];

    private static readonly string[] Roles = ["system", "user", "assistant", "tool"];

    // The variables apply_chat_template passes itself; a keyword argument of the same name is a TypeError there.
    private static readonly string[] ReservedVariables = ["messages", "tools", "documents", "add_generation_prompt"];

    /// <summary>Checks the conversation and renders it, ending with the assistant's turn unless
    /// <paramref name="addGenerationPrompt"/> is false (Tokenize's add_generation_prompt). <paramref name="formatConstrained"/>:
    /// the request sets a response format too (a forced tool call is then refused).</summary>
    public static ChatPrompt Render(Conversation conversation, EngineModelInfo model, ApiOptions limits, bool addGenerationPrompt = true,
        bool formatConstrained = false)
    {
        var violations = new List<FieldViolation>();
        if (conversation.Messages.Count == 0)
        {
            violations.Add(new("messages", "must not be empty"));
        }

        if (conversation.Messages.Count > limits.MaxChatMessages)
        {
            violations.Add(new("messages", $"{conversation.Messages.Count} messages exceed the limit of {limits.MaxChatMessages}"));
        }

        var totalChars = 0L;
        for (var i = 0; i < conversation.Messages.Count; i++)
        {
            var message = conversation.Messages[i];
            if (!Roles.Contains(message.Role))
            {
                violations.Add(new($"messages[{i}].role", $"must be one of {string.Join(", ", Roles)}, got '{message.Role}'"));
            }

            totalChars += message.Content.Length;
        }
        if (totalChars > limits.MaxPromptChars)
        {
            violations.Add(new("messages", $"{totalChars} characters of content exceed the limit of {limits.MaxPromptChars}"));
        }

        var template = conversation.ChatTemplate;
        if (template.Length > 0 && template != Model && !BuiltIn.Contains(template))
        {
            violations.Add(new("chat_template", $"must be empty, '{Model}' or one of {string.Join(", ", BuiltIn)}, got '{template}'"));
        }

        if (conversation.TemplateKwargs is { } kwargs)
        {
            foreach (var name in kwargs.Keys.Where(ReservedVariables.Contains))
            {
                violations.Add(new($"chat_template_kwargs.{name}", "is set by the server and cannot be passed"));
            }
        }

        ToolRequests.Validate(conversation, limits, violations, formatConstrained);
        InvalidRequestException.ThrowIfAny(violations);

        if (!conversation.UsesTools)
        {
            return RenderTemplate(conversation, model, template, addGenerationPrompt);
        }

        // Checked before rendering: a template that cannot show the tools must not silently drop them.
        var ownTemplate = template is "" or Model && model.ChatTemplate is not null;
        var format = (ownTemplate ? ToolCallFormat.Of(model.ChatTemplate!) : template == "llama3" ? ToolCallFormat.Llama3Json : ToolCallFormat.Hermes)
            ?? throw new ModelCapabilityException(
                $"the model's chat template has no tool-call syntax this server reads (Hermes <tool_call>, Llama 3.x JSON, Mistral [TOOL_CALLS]); {UseBuiltIn}");
        var tools = conversation.Tools.Count == 0 || conversation.ToolChoice.Kind == ToolChoiceKind.None ? null : new ToolUse(
            format, conversation.Tools.Select(tool => tool.Name).ToHashSet(StringComparer.Ordinal), conversation.ToolChoice.Forced,
            conversation.ParallelToolCalls);
        return RenderTemplate(conversation, model, template, addGenerationPrompt) with { ToolFormat = format, Tools = tools };
    }

    private static ChatPrompt RenderTemplate(Conversation conversation, EngineModelInfo model, string template, bool addGenerationPrompt)
    {
        if (template.Length == 0 || template == Model)
        {
            if (model.ChatTemplate is not null)
            {
                return ModelTemplate(conversation, model, addGenerationPrompt);
            }

            if (template == Model)
            {
                throw new ModelCapabilityException($"the model has no chat template; set chat_template to one of {string.Join(", ", BuiltIn)}");
            }

            template = Default;
        }
        if (conversation.UsesTools)
        {
            return BuiltInWithTools(conversation, template, addGenerationPrompt);
        }

        return template switch
        {
            "chatml" => ChatMl(conversation.Messages, addGenerationPrompt),
            _ => Llama3(conversation.Messages, addGenerationPrompt),
        };
    }

    // A built-in's tool form, a Jinja template shipped with the server (Api/ChatTemplates): chatml's is its plain turns
    // plus Hermes tool tags, llama3's is Llama 3.3's own template (which writes BOS and its dated system header).
    private static ChatPrompt BuiltInWithTools(Conversation conversation, string template, bool addGenerationPrompt)
    {
        var chatml = template == "chatml";
        var source = BuiltInToolTemplates[chatml ? 0 : 1].Value;
        var variables = Variables(conversation, addGenerationPrompt);
        if (!chatml)
        {
            variables["bos_token"] = "<|begin_of_text|>";
            variables["eos_token"] = "<|eot_id|>";
        }

        var text = Render(JinjaTemplateCache.Get(source), variables, builtIn: true);
        return new ChatPrompt(text, template, [chatml ? "<|im_end|>" : "<|eot_id|>"]);
    }

    private static readonly Lazy<string>[] BuiltInToolTemplates = [new(() => Resource("chatml-tools")), new(() => Resource("llama3-tools"))];

    private static string Resource(string name)
    {
        using var stream = typeof(ChatTemplates).Assembly.GetManifestResourceStream($"InferServer.Server.ChatTemplates.{name}.jinja")
            ?? throw new InvalidOperationException($"the built-in template {name} is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>messages, tools, documents and add_generation_prompt as apply_chat_template passes them.</summary>
    private static Dictionary<string, object?> Variables(Conversation conversation, bool addGenerationPrompt) => new()
    {
        ["messages"] = conversation.Messages.Select(MessageVariable).ToList(),
        // apply_chat_template passes None for tools and documents when there are none, not undefined.
        ["tools"] = conversation.Tools.Count == 0 ? null : conversation.Tools.Select(ToolVariable).ToList(),
        ["documents"] = null,
        ["add_generation_prompt"] = addGenerationPrompt,
    };

    // A message as vLLM hands it to the template: tool_calls only on a message that made calls (templates test for the
    // key), each with its arguments as an object; tool_call_id only on a tool result.
    private static Dictionary<string, object?> MessageVariable(ChatTurn message)
    {
        var variable = new Dictionary<string, object?> { ["role"] = message.Role, ["content"] = message.Content };
        if (message.ToolCalls.Count > 0)
        {
            variable["tool_calls"] = message.ToolCalls.Select(call => new Dictionary<string, object?>
            {
                ["id"] = call.Id,
                ["type"] = "function",
                ["function"] = new Dictionary<string, object?> { ["name"] = call.Name, ["arguments"] = ParseJson(call.Arguments) },
            }).ToList();
        }

        if (message.Role == "tool")
        {
            variable["tool_call_id"] = message.ToolCallId;
        }

        return variable;
    }

    // A tool in OpenAI's form, with only the fields the request gave.
    private static Dictionary<string, object?> ToolVariable(FunctionTool tool)
    {
        var function = new Dictionary<string, object?> { ["name"] = tool.Name };
        if (tool.Description.Length > 0)
        {
            function["description"] = tool.Description;
        }

        if (tool.Parameters.Length > 0)
        {
            function["parameters"] = ParseJson(tool.Parameters);
        }

        return new Dictionary<string, object?> { ["type"] = "function", ["function"] = function };
    }

    private static JsonElement ParseJson(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    // The model's own template, as transformers' apply_chat_template(messages, add_generation_prompt=True) renders
    // it. The template writes BOS itself when the model wants one, and the prompt is tokenized without special tokens
    // (GenerationMapper), as apply_chat_template(tokenize=True) does, so BOS is never doubled. Generation stops on the
    // EOS id already; the EOS text is a stop string only when the tokenizer has no such id for it.
    private static ChatPrompt ModelTemplate(Conversation conversation, EngineModelInfo model, bool addGenerationPrompt)
    {
        JinjaTemplate template;
        try
        {
            template = JinjaTemplateCache.Get(model.ChatTemplate!);
        }
        catch (TemplateSyntaxException error)
        {
            throw new ModelCapabilityException($"the model's chat template cannot be parsed ({error.Message}); {UseBuiltIn}");
        }
        var variables = Variables(conversation, addGenerationPrompt);
        // Like transformers' special_tokens_map, a token the tokenizer does not have is left undefined, not empty.
        if (model.BosToken is not null)
        {
            variables["bos_token"] = model.BosToken;
        }

        if (model.EosToken is not null)
        {
            variables["eos_token"] = model.EosToken;
        }

        // apply_chat_template renders with {**special_tokens_map, **kwargs}: a keyword argument (Qwen3's enable_thinking)
        // becomes a template variable, over bos_token and eos_token. The template reads them as JSON values.
        if (conversation.TemplateKwargs is { Count: > 0 } kwargs)
        {
            foreach (var (name, value) in kwargs)
            {
                variables[name] = value;
            }
        }

        var text = Render(template, variables, builtIn: false);
        IReadOnlyList<string> stops = model.EosToken is { Length: > 0 } eos && !model.EosTokenEndsGeneration ? [eos] : [];
        return new ChatPrompt(text, Model, stops);
    }

    private static string Render(JinjaTemplate template, Dictionary<string, object?> variables, bool builtIn)
    {
        try
        {
            return template.Render(variables);
        }
        catch (TemplateRaisedException refused)
        {
            throw new InvalidRequestException([new FieldViolation("messages", refused.Message)]);
        }
        catch (TemplateRuntimeException error) when (!builtIn)
        {
            throw new ModelCapabilityException($"the model's chat template failed to render this conversation ({error.Message}); {UseBuiltIn}");
        }
    }

    private static string UseBuiltIn => $"set chat_template to a built-in ({string.Join(", ", BuiltIn)}) that matches the model's format, or use Generate with a rendered prompt";

    // ChatML (OpenAI; Qwen, many fine-tunes): <|im_start|>role\ncontent<|im_end|>\n ... <|im_start|>assistant\n
    private static ChatPrompt ChatMl(IEnumerable<ChatTurn> messages, bool addGenerationPrompt)
    {
        var text = new StringBuilder();
        foreach (var message in messages)
        {
            text.Append("<|im_start|>").Append(message.Role).Append('\n').Append(message.Content).Append("<|im_end|>\n");
        }

        if (addGenerationPrompt)
        {
            text.Append("<|im_start|>assistant\n");
        }

        return new ChatPrompt(text.ToString(), "chatml", ["<|im_end|>"]);
    }

    // Llama 3 instruct: <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> ... then the
    // assistant header. The template writes BOS itself, so the prompt is tokenized without special tokens.
    private static ChatPrompt Llama3(IEnumerable<ChatTurn> messages, bool addGenerationPrompt)
    {
        var text = new StringBuilder("<|begin_of_text|>");
        foreach (var message in messages)
        {
            text.Append("<|start_header_id|>").Append(message.Role).Append("<|end_header_id|>\n\n")
                .Append(message.Content.Trim()).Append("<|eot_id|>");
        }
        if (addGenerationPrompt)
        {
            text.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        }

        return new ChatPrompt(text.ToString(), "llama3", ["<|eot_id|>"]);
    }
}
