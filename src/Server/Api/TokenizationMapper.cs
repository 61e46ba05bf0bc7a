using InferServer.AdapterStore.Registry;
using InferServer.Api.V1;
using InferServer.Engine;

namespace InferServer.Server.Api;

/// <summary>
/// Tokenize and Detokenize for both front doors (gRPC and the OpenAI port's vLLM-style /tokenize and /detokenize): the
/// prompt is tokenized exactly as a generation request with it would be, messages through <see cref="ChatTemplates"/>
/// as Chat renders them, so a client can count a prompt's tokens before sending it. The adapter is checked (unknown is
/// NOT_FOUND) because the prompt a request gets is the adapter's; adapters share the base model's tokenizer and chat
/// template today, so the tokens are the same for every adapter. Each door maps its request to a
/// <see cref="TokenizeInput"/>; the gRPC messages are mapped here.
/// </summary>
public static class TokenizationMapper
{
    /// <summary>A gRPC Tokenize call.</summary>
    public static TokenizeResponse Tokenize(TokenizeRequest request, IInferenceEngine engine, IAdapterRegistry registry, ApiOptions limits)
    {
        var input = new TokenizeInput(request.Adapter, request.Text, GrpcChat.Turns(request.Messages), request.ChatTemplate,
            request.HasAddSpecialTokens ? request.AddSpecialTokens : null, request.HasAddGenerationPrompt ? request.AddGenerationPrompt : null);
        var output = Tokenize(input, engine, registry, limits);
        var response = new TokenizeResponse { MaxModelLen = output.MaxModelLen, Count = output.TokenIds.Count, ChatTemplate = output.ChatTemplate };
        response.TokenIds.AddRange(output.TokenIds);
        return response;
    }

    /// <summary>Validates, renders (for messages) and tokenizes.</summary>
    public static TokenizeOutput Tokenize(TokenizeInput input, IInferenceEngine engine, IAdapterRegistry registry, ApiOptions limits)
    {
        var hasText = input.Text.Length > 0;
        var hasMessages = input.Messages.Count > 0;
        if (hasText == hasMessages)
        {
            InvalidRequestException.Throw(hasText ? "messages" : "text", "give exactly one of text and messages");
        }

        if (hasText && input.Text.Length > limits.MaxPromptChars)
        {
            InvalidRequestException.Throw("text", $"{input.Text.Length} characters exceed the limit of {limits.MaxPromptChars}");
        }

        if (!hasMessages && (input.AddGenerationPrompt is not null || input.ChatTemplate.Length > 0))
        {
            InvalidRequestException.Throw(input.AddGenerationPrompt is not null ? "add_generation_prompt" : "chat_template", "applies to messages only");
        }

        CheckAdapter(input.Adapter, registry);
        if (!hasMessages)
        {
            return new(engine.Tokenize(input.Text, input.AddSpecialTokens ?? true), engine.Model.MaxContextTokens, "");
        }

        var conversation = new Conversation(input.Messages) { ChatTemplate = input.ChatTemplate };
        var prompt = ChatTemplates.Render(conversation, engine.Model, limits, input.AddGenerationPrompt ?? true);
        // As Chat: the template writes the special tokens itself, so none are added unless asked for.
        return new(engine.Tokenize(prompt.Text, input.AddSpecialTokens ?? false), engine.Model.MaxContextTokens, prompt.Template);
    }

    /// <summary>A gRPC Detokenize call.</summary>
    public static DetokenizeResponse Detokenize(DetokenizeRequest request, IInferenceEngine engine, IAdapterRegistry registry, ApiOptions limits) =>
        new() { Prompt = Detokenize(request.Adapter, [.. request.Tokens], engine, registry, limits) };

    /// <summary>Validates and decodes.</summary>
    public static string Detokenize(string adapter, IReadOnlyList<int> tokens, IInferenceEngine engine, IAdapterRegistry registry, ApiOptions limits)
    {
        if (tokens.Count > limits.MaxPromptTokens)
        {
            InvalidRequestException.Throw("tokens", $"{tokens.Count} tokens exceed the limit of {limits.MaxPromptTokens}");
        }

        CheckAdapter(adapter, registry);
        return engine.Detokenize(tokens);
    }

    private static void CheckAdapter(string adapter, IAdapterRegistry registry)
    {
        if (adapter.Length > 0)
        {
            // Throws AdapterNotFoundException (NOT_FOUND, 404) for a name that is not registered.
            registry.Get(adapter);
        }
    }
}

/// <summary>What to tokenize, in neither door's types: text, or messages rendered by a chat template.</summary>
/// <param name="Adapter">Registered adapter name; empty = the base model.</param>
/// <param name="Text">Prompt text; empty when messages are given.</param>
/// <param name="Messages">A conversation; empty when text is given.</param>
/// <param name="ChatTemplate">Messages only: which template renders them.</param>
/// <param name="AddSpecialTokens">Add the tokenizer's special tokens; null = true for text, false for messages.</param>
/// <param name="AddGenerationPrompt">Messages only: end with the assistant's turn header; null = true.</param>
public sealed record TokenizeInput(
    string Adapter, string Text, IReadOnlyList<ChatTurn> Messages, string ChatTemplate, bool? AddSpecialTokens, bool? AddGenerationPrompt);

/// <summary>The token ids, the context limit, and for messages the template that rendered them.</summary>
public sealed record TokenizeOutput(IReadOnlyList<int> TokenIds, int MaxModelLen, string ChatTemplate);
