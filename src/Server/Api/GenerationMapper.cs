using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using InferServer.Api.V1;
using InferServer.Kernels.Sampling;
using InferServer.Kernels.Structured;
using InferServer.Engine;
using DomainFinishReason = InferServer.Engine.FinishReason;
using DomainUsage = InferServer.Engine.Usage;
using ProtoFinishReason = InferServer.Api.V1.FinishReason;
using ProtoTokenDelta = InferServer.Api.V1.TokenDelta;
using ProtoUsage = InferServer.Api.V1.Usage;
using TokenDelta = InferServer.Engine.TokenDelta;

namespace InferServer.Server.Api;

/// <summary>
/// Generation requests and results between proto and engine types. The request mappers check form and the
/// configured limits (what only the engine can judge, such as prompt length against the context, it judges itself)
/// and report every bad field at once.
/// </summary>
public static class GenerationMapper
{
    /// <summary>The engine request for a Generate/GenerateStream call.</summary>
    public static GenerationRequest ToDomain(GenerateRequest request, ApiOptions limits, DateTimeOffset? deadline)
    {
        var (text, tokenIds) = request.PromptCase switch
        {
            GenerateRequest.PromptOneofCase.Text => (request.Text, null),
            GenerateRequest.PromptOneofCase.TokenIds => ((string?)null, (IReadOnlyList<int>?)[.. request.TokenIds.Ids]),
            _ => (null, null),
        };
        return ToDomain(request.Adapter, text, tokenIds, Options(request.Params),
            addSpecialTokens: !request.HasAddSpecialTokens || request.AddSpecialTokens, limits, deadline);
    }

    /// <summary>The engine request for a prompt given as <paramref name="text"/> or as <paramref name="tokenIds"/> (exactly one).</summary>
    public static GenerationRequest ToDomain(
        string adapter, string? text, IReadOnlyList<int>? tokenIds, GenerationOptions options, bool addSpecialTokens, ApiOptions limits,
        DateTimeOffset? deadline)
    {
        var violations = new List<FieldViolation>();
        if (text is not null)
        {
            if (text.Length == 0)
            {
                violations.Add(new("text", "must not be empty"));
            }
            else if (text.Length > limits.MaxPromptChars)
            {
                violations.Add(new("text", $"{text.Length} characters exceed the limit of {limits.MaxPromptChars}"));
            }
        }
        else if (tokenIds is not null)
        {
            if (tokenIds.Count == 0)
            {
                violations.Add(new("token_ids.ids", "must not be empty"));
            }
            else if (tokenIds.Count > limits.MaxPromptTokens)
            {
                violations.Add(new("token_ids.ids", $"{tokenIds.Count} tokens exceed the limit of {limits.MaxPromptTokens}"));
            }

            if (tokenIds.Any(id => id < 0))
            {
                violations.Add(new("token_ids.ids", "token ids must not be negative"));
            }
        }
        else
        {
            violations.Add(new("prompt", "set either text or token_ids"));
        }

        var settings = ToSettings(options, limits, violations);
        InvalidRequestException.ThrowIfAny(violations);
        return new GenerationRequest(
            adapter, text, tokenIds, settings.MaxNewTokens, settings.Sampling, settings.StopStrings, settings.StopTokenIds,
            IgnoreEos: options.IgnoreEos,
            Deadline: deadline,
            AddSpecialTokens: addSpecialTokens,
            Grammar: settings.Grammar);
    }

    /// <summary>The gRPC API's generation parameters as the server's <see cref="GenerationOptions"/> (unset = defaults).</summary>
    public static GenerationOptions Options(GenerationParams? parameters)
    {
        parameters ??= new GenerationParams();
        var sampling = parameters.Sampling ?? new SamplingParams();
        return new GenerationOptions
        {
            MaxNewTokens = parameters.MaxNewTokens,
            Temperature = sampling.HasTemperature ? sampling.Temperature : null,
            TopK = sampling.TopK,
            TopP = sampling.HasTopP ? sampling.TopP : null,
            MinP = sampling.MinP,
            RepetitionPenalty = sampling.HasRepetitionPenalty ? sampling.RepetitionPenalty : null,
            PresencePenalty = sampling.PresencePenalty,
            FrequencyPenalty = sampling.FrequencyPenalty,
            Seed = sampling.HasSeed ? sampling.Seed : null,
            Stop = [.. parameters.Stop],
            StopTokenIds = [.. parameters.StopTokenIds],
            IgnoreEos = parameters.IgnoreEos,
            Logprobs = parameters.Logprobs,
            TopLogprobs = parameters.TopLogprobs,
            JsonObject = parameters.ResponseFormat?.JsonObject ?? false,
            JsonSchema = parameters.ResponseFormat?.JsonSchema ?? "",
        };
    }

    /// <summary>The engine request for a chat reply for <paramref name="adapter"/>: <paramref name="conversation"/>, rendered
    /// as <paramref name="prompt"/>, generated under <paramref name="options"/>.</summary>
    public static GenerationRequest ToDomain(
        string adapter, GenerationOptions options, Conversation conversation, ChatPrompt prompt, ApiOptions limits, DateTimeOffset? deadline)
    {
        var violations = new List<FieldViolation>();
        var settings = ToSettings(options, limits, violations);
        var grammar = settings.Grammar;
        if (prompt.ToolFormat is { } format)
        {
            try
            {
                grammar ??= ToolRequests.ForcedCallGrammar(conversation, format);
            }
            catch (UnsupportedSchemaException refused)
            {
                // Each tool's parameters compiled alone; wrapped in the call they may not ($ref to the schema's own root).
                violations.Add(new("tools", $"a forced call of these tools cannot be constrained: {refused.Message}"));
            }
        }

        InvalidRequestException.ThrowIfAny(violations);
        return new GenerationRequest(
            adapter, prompt.Text, null, settings.MaxNewTokens, settings.Sampling,
            [.. settings.StopStrings, .. prompt.StopStrings.Except(settings.StopStrings)], settings.StopTokenIds,
            IgnoreEos: options.IgnoreEos,
            Deadline: deadline,
            // The template writes the special tokens (BOS, role markers) itself.
            AddSpecialTokens: false,
            Grammar: grammar);
    }

    private sealed record Settings(int MaxNewTokens, SamplingParameters Sampling, IReadOnlyList<string> StopStrings, IReadOnlyList<int> StopTokenIds,
        JsonGrammar? Grammar);

    private static Settings ToSettings(GenerationOptions parameters, ApiOptions limits, List<FieldViolation> violations)
    {
        var maxNewTokens = parameters.MaxNewTokens == 0 ? limits.DefaultMaxNewTokens : parameters.MaxNewTokens;
        if (maxNewTokens < 1 || maxNewTokens > limits.MaxNewTokens)
        {
            violations.Add(new("params.max_new_tokens", $"must be in 1..{limits.MaxNewTokens} (0 = {limits.DefaultMaxNewTokens}), got {parameters.MaxNewTokens}"));
        }

        if (parameters.Stop.Count + parameters.StopTokenIds.Count > limits.MaxStopSequences)
        {
            violations.Add(new("params.stop", $"at most {limits.MaxStopSequences} stop strings and stop token ids together"));
        }

        for (var i = 0; i < parameters.Stop.Count; i++)
        {
            if (parameters.Stop[i].Length == 0)
            {
                violations.Add(new($"params.stop[{i}]", "must not be empty"));
            }
        }
        if (parameters.StopTokenIds.Any(id => id < 0))
        {
            violations.Add(new("params.stop_token_ids", "token ids must not be negative"));
        }

        var domain = new SamplingParameters
        {
            Temperature = parameters.Temperature ?? 1.0,
            TopK = parameters.TopK,
            TopP = parameters.TopP ?? 1.0,
            MinP = parameters.MinP,
            RepetitionPenalty = parameters.RepetitionPenalty ?? 1.0,
            PresencePenalty = parameters.PresencePenalty,
            FrequencyPenalty = parameters.FrequencyPenalty,
            Seed = parameters.Seed,
            Logprobs = parameters.Logprobs,
            TopLogprobs = parameters.TopLogprobs,
        };
        foreach (var problem in domain.Validate())
        {
            // SamplingParameters names each field first, by its API name.
            var name = problem.Split(' ', 2)[0];
            var field = name is "logprobs" or "top_logprobs" ? $"params.{name}" : $"params.sampling.{name}";
            violations.Add(new(field, problem));
        }
        return new Settings(maxNewTokens, domain, parameters.Stop, parameters.StopTokenIds, Grammar(parameters, violations));
    }

    /// <summary>The compiled grammar of a response format (cached by schema text), or null for free text.</summary>
    private static JsonGrammar? Grammar(GenerationOptions format, List<FieldViolation> violations)
    {
        if (!format.FormatConstrained)
        {
            return null;
        }

        if (format.JsonObject && format.JsonSchema.Length > 0)
        {
            violations.Add(new("params.response_format", "set one of json_object and json_schema"));
            return null;
        }

        if (format.JsonObject)
        {
            return JsonSchemaCompiler.JsonObject;
        }

        try
        {
            return JsonGrammarCache.Get(format.JsonSchema);
        }
        catch (UnsupportedSchemaException refused)
        {
            violations.Add(new("params.response_format.json_schema", refused.Message));
            return null;
        }
    }

    /// <summary>Adds a delta's text, ids and logprobs to a whole response.</summary>
    public static void Append(GenerateResponse response, System.Text.StringBuilder text, TokenDelta delta, Func<int, ReadOnlyMemory<byte>> tokenBytes)
    {
        text.Append(delta.Text);
        response.TokenIds.AddRange(delta.TokenIds);
        if (delta.Logprobs is { } logprobs)
        {
            response.Logprobs.AddRange(logprobs.Select(token => ToProto(token, tokenBytes)));
        }
    }

    /// <summary>Fills the end of a whole response; a chat reply that is tool calls has them parsed out of its text.</summary>
    public static void Complete(GenerateResponse response, GenerationFinished finished, string chatTemplate, ToolUse? tools = null)
    {
        response.FinishReason = ToProto(finished.Reason);
        if (tools is not null && finished.Reason != DomainFinishReason.Length && tools.Parse(response.Text) is { } parsed)
        {
            response.Text = parsed.Content;
            response.ToolCalls.AddRange(parsed.Calls.Select(GrpcChat.ToProto));
            response.FinishReason = ProtoFinishReason.ToolCalls;
        }

        response.Usage = ToProto(finished.Usage);
        response.Timing = ToProto(finished.Timing);
        response.ServedFrom = ToProto(finished.ServedFrom);
        response.ChatTemplate = chatTemplate;
    }

    /// <summary>A delta frame.</summary>
    public static GenerateStreamResponse ToFrame(TokenDelta delta, Func<int, ReadOnlyMemory<byte>> tokenBytes)
    {
        var frame = new ProtoTokenDelta { Text = delta.Text };
        frame.TokenIds.AddRange(delta.TokenIds);
        if (delta.Logprobs is { } logprobs)
        {
            frame.Logprobs.AddRange(logprobs.Select(token => ToProto(token, tokenBytes)));
        }

        return new GenerateStreamResponse { Delta = frame };
    }

    /// <summary>The final frame; for a chat reply with tools, the calls parsed from <paramref name="wholeText"/>.</summary>
    public static GenerateStreamResponse ToFrame(GenerationFinished finished, string chatTemplate, ToolUse? tools = null, string wholeText = "")
    {
        var final = new GenerateFinal
        {
            FinishReason = ToProto(finished.Reason),
            Usage = ToProto(finished.Usage),
            Timing = ToProto(finished.Timing),
            ServedFrom = ToProto(finished.ServedFrom),
            ChatTemplate = chatTemplate,
        };
        if (tools is not null && finished.Reason != DomainFinishReason.Length && tools.Parse(wholeText) is { } parsed)
        {
            final.ToolCalls.AddRange(parsed.Calls.Select(GrpcChat.ToProto));
            final.FinishReason = ProtoFinishReason.ToolCalls;
        }

        return new GenerateStreamResponse { Final = final };
    }

    /// <summary>A token's logprobs with each token's bytes, so callers need not detokenize ids themselves.</summary>
    public static TokenLogprobs ToProto(SampledToken token, Func<int, ReadOnlyMemory<byte>> tokenBytes)
    {
        var proto = new TokenLogprobs
        {
            TokenId = token.TokenId,
            Logprob = token.Logprob ?? 0f,
            TokenBytes = ByteString.CopyFrom(tokenBytes(token.TokenId).Span),
        };
        proto.TopLogprobs.AddRange(token.TopLogprobs.Select(top => new TopLogprob
        {
            TokenId = top.TokenId,
            Logprob = top.Logprob,
            TokenBytes = ByteString.CopyFrom(tokenBytes(top.TokenId).Span),
        }));
        return proto;
    }

    public static ProtoFinishReason ToProto(DomainFinishReason reason) => reason switch
    {
        DomainFinishReason.Length => ProtoFinishReason.Length,
        DomainFinishReason.Stop => ProtoFinishReason.Stop,
        DomainFinishReason.EndOfSequence => ProtoFinishReason.EndOfSequence,
        _ => ProtoFinishReason.Unspecified,
    };

    public static ServedFrom ToProto(AdapterServedFrom servedFrom) => servedFrom switch
    {
        AdapterServedFrom.Base => ServedFrom.Base,
        AdapterServedFrom.Device => ServedFrom.Device,
        AdapterServedFrom.Loaded => ServedFrom.Loaded,
        AdapterServedFrom.Merged => ServedFrom.Merged,
        _ => ServedFrom.Unspecified,
    };

    public static ProtoUsage ToProto(DomainUsage usage) => new()
    {
        PromptTokens = usage.PromptTokens,
        CompletionTokens = usage.CompletionTokens,
        CachedPromptTokens = usage.CachedPromptTokens,
    };

    public static Timing ToProto(GenerationTiming timing) => new()
    {
        Submitted = Timestamp.FromDateTimeOffset(timing.Submitted),
        QueueMs = timing.QueueWait.TotalMilliseconds,
        AdapterLoadMs = timing.AdapterLoad.TotalMilliseconds,
        TimeToFirstTokenMs = timing.TimeToFirstToken.TotalMilliseconds,
        TotalMs = timing.Total.TotalMilliseconds,
    };
}
