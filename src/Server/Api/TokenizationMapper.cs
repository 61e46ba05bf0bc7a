using InferServer.AdapterStore.Registry;
using InferServer.Api.V1;
using InferServer.Engine;

namespace InferServer.Server.Api;

/// <summary>
/// Tokenize and Detokenize for both front doors (gRPC and the OpenAI port's vLLM-style /tokenize and /detokenize): the
/// prompt is tokenized exactly as a generation request with it would be, messages through <see cref="ChatTemplates"/>
/// as Chat renders them, so a client can count a prompt's tokens before sending it. The adapter is checked (unknown is
/// NOT_FOUND) because the prompt a request gets is the adapter's; adapters share the base model's tokenizer and chat
/// template today, so the tokens are the same for every adapter.
/// </summary>
public static class TokenizationMapper
{
    /// <summary>Validates, renders (for messages) and tokenizes.</summary>
    public static TokenizeResponse Tokenize(TokenizeRequest request, IInferenceEngine engine, IAdapterRegistry registry, ApiOptions limits)
    {
        var hasText = request.Text.Length > 0;
        var hasMessages = request.Messages.Count > 0;
        if (hasText == hasMessages)
        {
            InvalidRequestException.Throw(hasText ? "messages" : "text", "give exactly one of text and messages");
        }

        if (hasText && request.Text.Length > limits.MaxPromptChars)
        {
            InvalidRequestException.Throw("text", $"{request.Text.Length} characters exceed the limit of {limits.MaxPromptChars}");
        }

        if (!hasMessages && (request.HasAddGenerationPrompt || request.ChatTemplate.Length > 0))
        {
            InvalidRequestException.Throw(request.HasAddGenerationPrompt ? "add_generation_prompt" : "chat_template", "applies to messages only");
        }

        CheckAdapter(request.Adapter, registry);
        var response = new TokenizeResponse { MaxModelLen = engine.Model.MaxContextTokens };
        IReadOnlyList<int> ids;
        if (hasMessages)
        {
            var chat = new ChatRequest { Adapter = request.Adapter, ChatTemplate = request.ChatTemplate };
            chat.Messages.AddRange(request.Messages);
            var prompt = ChatTemplates.Render(chat, engine.Model, limits, !request.HasAddGenerationPrompt || request.AddGenerationPrompt);
            // As Chat: the template writes the special tokens itself, so none are added unless asked for.
            ids = engine.Tokenize(prompt.Text, request.HasAddSpecialTokens && request.AddSpecialTokens);
            response.ChatTemplate = prompt.Template;
        }
        else
        {
            ids = engine.Tokenize(request.Text, !request.HasAddSpecialTokens || request.AddSpecialTokens);
        }
        response.TokenIds.AddRange(ids);
        response.Count = ids.Count;
        return response;
    }

    /// <summary>Validates and decodes.</summary>
    public static DetokenizeResponse Detokenize(DetokenizeRequest request, IInferenceEngine engine, IAdapterRegistry registry, ApiOptions limits)
    {
        if (request.Tokens.Count > limits.MaxPromptTokens)
        {
            InvalidRequestException.Throw("tokens", $"{request.Tokens.Count} tokens exceed the limit of {limits.MaxPromptTokens}");
        }

        CheckAdapter(request.Adapter, registry);
        return new DetokenizeResponse { Prompt = engine.Detokenize([.. request.Tokens]) };
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
