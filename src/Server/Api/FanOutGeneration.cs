using System.Text;
using Grpc.Core;
using InferServer.Api.V1;
using InferServer.Engine;
using TokenDelta = InferServer.Engine.TokenDelta;

namespace InferServer.Server.Api;

/// <summary>
/// One Generate/GenerateStream call fanned out to several adapters (GenerateRequest.adapters): one engine request per adapter,
/// all submitted together, so the scheduler admits them side by side and they share every decode step. A greedy completion
/// is what that adapter gives alone in practice; a sampled one may differ (docs/architecture.md, "Known limits"). Nothing here touches the engine's internals:
/// the requests are ordinary ones, merged by <see cref="ChoiceStreams"/> (the OpenAI path's n choices do the same).
/// A refusal of any adapter (unknown, invalid) fails the whole call before any frame is written.
/// </summary>
public static class FanOutGeneration
{
    /// <summary>The engine requests of a fan-out call, one per adapter in order, after checking the list.</summary>
    public static IReadOnlyList<GenerationRequest> ToDomain(GenerateRequest request, ApiOptions limits, DateTimeOffset? deadline)
    {
        var violations = new List<FieldViolation>();
        if (request.Adapter.Length > 0)
        {
            violations.Add(new("adapter", "leave empty when adapters is set (name every adapter, \"\" for the base model, in adapters)"));
        }

        if (request.Adapters.Count > limits.MaxFanOutAdapters)
        {
            violations.Add(new("adapters", $"{request.Adapters.Count} adapters exceed the limit of {limits.MaxFanOutAdapters} (Api:MaxFanOutAdapters)"));
        }

        foreach (var duplicate in request.Adapters.GroupBy(name => name, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            violations.Add(new("adapters", $"'{duplicate.Key}' is named {duplicate.Count()} times; each adapter gives one completion"));
        }

        InvalidRequestException.ThrowIfAny(violations);
        var shared = GenerationMapper.ToDomain(request, limits, deadline);
        return [.. request.Adapters.Select(name => shared with { Adapter = name })];
    }

    /// <summary>Every completion, collected; the response lists them in the request's order.</summary>
    public static async Task<GenerateResponse> CollectAsync(
        IInferenceEngine engine, GenerateRequest request, IReadOnlyList<GenerationRequest> generations,
        Action<int, GenerationFinished> finished, CancellationToken cancellationToken)
    {
        var completions = generations.Select(_ => new GenerateResponse()).ToArray();
        var texts = generations.Select(_ => new StringBuilder()).ToArray();
        await using var streams = await ChoiceStreams.StartAsync(engine, generations, cancellationToken);
        await foreach (var (index, generationEvent) in streams.ReadAllAsync(cancellationToken))
        {
            switch (generationEvent)
            {
                case TokenDelta delta:
                    GenerationMapper.Append(completions[index], texts[index], delta, engine.TokenBytes);
                    break;
                case GenerationFinished done:
                    GenerationMapper.Complete(completions[index], done, chatTemplate: "");
                    finished(index, done);
                    break;
            }
        }
        var response = new GenerateResponse();
        for (var i = 0; i < completions.Length; i++)
        {
            completions[i].Text = texts[i].ToString();
            response.Completions.Add(new AdapterCompletion { Adapter = request.Adapters[i], Response = completions[i] });
        }
        return response;
    }

    /// <summary>Every frame of every completion, tagged with its index; the handler stays the stream's only writer.</summary>
    public static async Task StreamAsync(
        IInferenceEngine engine, IReadOnlyList<GenerationRequest> generations, IServerStreamWriter<GenerateStreamResponse> responseStream,
        Action<int, GenerationFinished> finished, CancellationToken cancellationToken)
    {
        await using var streams = await ChoiceStreams.StartAsync(engine, generations, cancellationToken);
        await foreach (var (index, generationEvent) in streams.ReadAllAsync(cancellationToken))
        {
            GenerateStreamResponse frame;
            switch (generationEvent)
            {
                case TokenDelta delta:
                    frame = GenerationMapper.ToFrame(delta, engine.TokenBytes);
                    break;
                case GenerationFinished done:
                    finished(index, done);
                    frame = GenerationMapper.ToFrame(done, chatTemplate: "");
                    break;
                default:
                    continue;
            }
            frame.Completion = index;
            await responseStream.WriteAsync(frame, cancellationToken);
        }
    }
}
