using System.Text;
using InferServer.Kernels.Sampling;
using InferServer.Engine;
using DomainFinishReason = InferServer.Engine.FinishReason;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// OpenAI requests to engine requests, through the shared validation and chat templating (the same as gRPC's, on the
/// server's own request types), and engine results to OpenAI's response pieces.
/// </summary>
public static class OpenAiMapper
{
    /// <summary>The adapter a model name selects: none for the base model's served name.</summary>
    public static string AdapterOf(string model, EngineModelInfo baseModel) => model == baseModel.ServedName ? "" : model;

    /// <summary>One engine request per prompt and choice, prompt-major (choice index = prompt × n + i); seed + i per choice.</summary>
    public static IReadOnlyList<GenerationRequest> ToDomain(CompletionCall call, EngineModelInfo baseModel, ApiOptions limits)
    {
        var requests = new List<GenerationRequest>();
        foreach (var prompt in call.Prompts)
        {
            for (var i = 0; i < call.Common.Choices; i++)
            {
                requests.Add(GenerationMapper.ToDomain(AdapterOf(call.Common.Model, baseModel), prompt.Text, prompt.TokenIds,
                    ChoiceParams(call.Common.Params, i), addSpecialTokens: true, limits, deadline: null));
            }
        }
        return requests;
    }

    /// <summary>n engine requests for a chat call, its messages rendered by the shared chat templates, with the rendered
    /// prompt (whose <see cref="ChatPrompt.Tools"/> reads the replies' tool calls).</summary>
    public static (IReadOnlyList<GenerationRequest> Requests, ChatPrompt Prompt) ToDomainWithPrompt(ChatCompletionCall call, EngineModelInfo baseModel, ApiOptions limits)
    {
        var adapter = AdapterOf(call.Common.Model, baseModel);
        var prompt = ChatTemplates.Render(call.Conversation, baseModel, limits, formatConstrained: call.Common.Params.FormatConstrained);
        return ([.. Enumerable.Range(0, call.Common.Choices).Select(i =>
            GenerationMapper.ToDomain(adapter, ChoiceParams(call.Common.Params, i), call.Conversation, prompt, limits, deadline: null))], prompt);
    }

    // n samples of one prompt: with a seed, choice i uses seed + i, so the choices differ yet each is reproducible.
    private static GenerationOptions ChoiceParams(GenerationOptions parameters, int choice) =>
        choice == 0 || parameters.Seed is not { } seed ? parameters : parameters with { Seed = unchecked(seed + (ulong)choice) };

    /// <summary>OpenAI's finish_reason: the model's end-of-sequence token and a stop sequence are both "stop".</summary>
    public static string FinishReason(DomainFinishReason reason) => reason == DomainFinishReason.Length ? "length" : "stop";

    /// <summary>
    /// How a token is named in logprobs: its own bytes as UTF-8 text, as OpenAI and vLLM report it. A byte-level piece
    /// that is only part of a character reads as U+FFFD there; chat logprobs also carry the exact bytes for that case.
    /// </summary>
    public static string TokenName(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);

    /// <summary>The lowest logprob written: JSON has no NaN or infinity, so a logprob that is not a finite number (NaN
    /// logits from an adapter with NaN weights, or -inf) is written as this, as vLLM writes -inf.</summary>
    public const float MinJsonLogprob = -9999f;

    /// <summary><paramref name="logprob"/> when finite (at most 0), else <see cref="MinJsonLogprob"/>.</summary>
    public static float JsonLogprob(float logprob) => float.IsFinite(logprob) ? Math.Max(logprob, MinJsonLogprob) : MinJsonLogprob;

    /// <summary>Completions logprobs of the tokens of one delta (null when none were asked for). Alternatives whose names
    /// coincide (two partial-character pieces) keep the likelier one, since the top list is a map by name.</summary>
    public static CompletionLogprobs? CompletionLogprobs(IReadOnlyList<SampledToken>? tokens, Func<int, ReadOnlyMemory<byte>> tokenBytes) =>
        tokens is null ? null : new(
            [.. tokens.Select(token => TokenName(tokenBytes(token.TokenId).Span))],
            [.. tokens.Select(token => JsonLogprob(token.Logprob ?? 0f))],
            [.. tokens.Select(token => (IReadOnlyDictionary<string, float>)token.TopLogprobs
                .GroupBy(top => TokenName(tokenBytes(top.TokenId).Span)).ToDictionary(group => group.Key, group => JsonLogprob(group.Max(top => top.Logprob))))]);

    /// <summary>Chat logprobs of the tokens of one delta (null when none were asked for), with each token's bytes.</summary>
    public static ChatLogprobs? ChatLogprobs(IReadOnlyList<SampledToken>? tokens, Func<int, ReadOnlyMemory<byte>> tokenBytes)
    {
        if (tokens is null)
        {
            return null;
        }

        (string Name, int[] Bytes) Named(int tokenId)
        {
            var bytes = tokenBytes(tokenId).Span;
            var values = new int[bytes.Length];
            for (var i = 0; i < bytes.Length; i++)
            {
                values[i] = bytes[i];
            }

            return (TokenName(bytes), values);
        }
        return new([.. tokens.Select(token =>
        {
            var (name, bytes) = Named(token.TokenId);
            return new ChatTokenLogprob(name, JsonLogprob(token.Logprob ?? 0f), bytes, [.. token.TopLogprobs.Select(top =>
            {
                var (topName, topBytes) = Named(top.TokenId);
                return new ChatTopLogprob(topName, JsonLogprob(top.Logprob), topBytes);
            })]);
        })]);
    }

    /// <summary>
    /// Joins per-delta completions logprobs. A delta that only releases held-back text at the end (a possible start of a
    /// stop string, an incomplete UTF-8 character) has no token and so none: it is skipped.
    /// </summary>
    public static CompletionLogprobs? Join(IReadOnlyList<CompletionLogprobs?> parts)
    {
        var tokens = parts.OfType<CompletionLogprobs>().ToArray();
        return tokens.Length == 0 ? null : new(
            [.. tokens.SelectMany(part => part.Tokens)], [.. tokens.SelectMany(part => part.TokenLogprobs)], [.. tokens.SelectMany(part => part.TopLogprobs)]);
    }

    /// <summary>Total usage: each prompt counted once (its choices share it), every choice's completion tokens.</summary>
    public static OpenAiUsage Usage(IReadOnlyList<Engine.Usage?> choices, int choicesPerPrompt)
    {
        var firstChoices = choices.Where((_, index) => index % choicesPerPrompt == 0).ToArray();
        var prompt = firstChoices.Sum(usage => usage?.PromptTokens ?? 0);
        var completion = choices.Sum(usage => usage?.CompletionTokens ?? 0);
        return new OpenAiUsage(prompt, completion, prompt + completion)
        {
            PromptTokensDetails = new(firstChoices.Sum(usage => usage?.CachedPromptTokens ?? 0)),
        };
    }
}
