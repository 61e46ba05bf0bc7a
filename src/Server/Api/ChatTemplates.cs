using System.Text;
using InferServer.Api.V1;
using InferServer.Server.Engine;

namespace InferServer.Server.Api;

/// <summary>
/// Renders chat messages to a prompt. The model's own template is Jinja source, which this server does not
/// interpret yet; rather than guess, a model with a template needs the request to name a built-in one
/// (FAILED_PRECONDITION otherwise), and a model without one gets "chatml". The response names the template used.
/// </summary>
public static class ChatTemplates
{
    /// <summary>The request value that asks for the model's own template.</summary>
    public const string Model = "model";

    /// <summary>The built-in used when the model has no template and the request names none.</summary>
    public const string Default = "chatml";

    /// <summary>The built-in template names.</summary>
    public static readonly IReadOnlyList<string> BuiltIn = ["chatml", "llama3"];

    private static readonly string[] Roles = ["system", "user", "assistant"];

    /// <summary>Checks the messages and renders them, ending with the assistant's turn.</summary>
    public static ChatPrompt Render(ChatRequest request, EngineModelInfo model, ApiOptions limits)
    {
        var violations = new List<FieldViolation>();
        if (request.Messages.Count == 0) violations.Add(new("messages", "must not be empty"));
        if (request.Messages.Count > limits.MaxChatMessages)
            violations.Add(new("messages", $"{request.Messages.Count} messages exceed the limit of {limits.MaxChatMessages}"));
        var totalChars = 0L;
        for (var i = 0; i < request.Messages.Count; i++)
        {
            var message = request.Messages[i];
            if (!Roles.Contains(message.Role))
                violations.Add(new($"messages[{i}].role", $"must be one of {string.Join(", ", Roles)}, got '{message.Role}'"));
            totalChars += message.Content.Length;
        }
        if (totalChars > limits.MaxPromptChars)
            violations.Add(new("messages", $"{totalChars} characters of content exceed the limit of {limits.MaxPromptChars}"));
        var template = request.ChatTemplate;
        if (template.Length > 0 && template != Model && !BuiltIn.Contains(template))
            violations.Add(new("chat_template", $"must be empty, '{Model}' or one of {string.Join(", ", BuiltIn)}, got '{template}'"));
        RpcErrors.ThrowIfAny(violations);

        if (template.Length == 0 || template == Model)
        {
            if (model.ChatTemplate is not null)
                throw new ModelCapabilityException(
                    $"the model's own chat template (Jinja) cannot be rendered by this server; set chat_template to a built-in "
                    + $"({string.Join(", ", BuiltIn)}) that matches the model's format, or use Generate with a rendered prompt");
            if (template == Model)
                throw new ModelCapabilityException($"the model has no chat template; set chat_template to one of {string.Join(", ", BuiltIn)}");
            template = Default;
        }
        return template switch
        {
            "chatml" => ChatMl(request.Messages),
            _ => Llama3(request.Messages),
        };
    }

    // ChatML (OpenAI; Qwen, many fine-tunes): <|im_start|>role\ncontent<|im_end|>\n ... <|im_start|>assistant\n
    private static ChatPrompt ChatMl(IEnumerable<ChatMessage> messages)
    {
        var text = new StringBuilder();
        foreach (var message in messages)
            text.Append("<|im_start|>").Append(message.Role).Append('\n').Append(message.Content).Append("<|im_end|>\n");
        text.Append("<|im_start|>assistant\n");
        return new ChatPrompt(text.ToString(), "chatml", ["<|im_end|>"]);
    }

    // Llama 3 instruct: <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> ... then the
    // assistant header. The template writes BOS itself, so the prompt is tokenized without special tokens.
    private static ChatPrompt Llama3(IEnumerable<ChatMessage> messages)
    {
        var text = new StringBuilder("<|begin_of_text|>");
        foreach (var message in messages)
        {
            text.Append("<|start_header_id|>").Append(message.Role).Append("<|end_header_id|>\n\n")
                .Append(message.Content.Trim()).Append("<|eot_id|>");
        }
        text.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        return new ChatPrompt(text.ToString(), "llama3", ["<|eot_id|>"]);
    }
}
