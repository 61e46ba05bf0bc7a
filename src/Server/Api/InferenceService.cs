using System.Diagnostics;
using System.Text;
using Grpc.Core;
using InferServer.AdapterStore.Registry;
using InferServer.Api.V1;
using InferServer.Engine;
using InferServer.Server.Observability;
using Microsoft.Extensions.Options;
using TokenDelta = InferServer.Engine.TokenDelta;

namespace InferServer.Server.Api;

/// <summary>
/// The Inference service: check form and limits, call the engine, map. Errors are thrown as domain exceptions and
/// mapped by <see cref="ExceptionInterceptor"/>. The call's deadline goes into the engine request, and its
/// cancellation token into every call, so a client that leaves frees its KV cache at the engine's next step.
/// </summary>
public sealed class InferenceService(
    IInferenceEngine engine, IAdapterRegistry registry, IOptions<ApiOptions> options, InferServerMetrics metrics, AdapterLabels adapterLabels)
    : Inference.InferenceBase
{
    private readonly ApiOptions limits = options.Value;

    public override Task<GenerateResponse> Generate(GenerateRequest request, ServerCallContext context) =>
        request.Adapters.Count > 0
            ? FanOutWholeAsync(request, context)
            : GenerateWholeAsync(GenerationMapper.ToDomain(request, limits, Deadline(context)), chatTemplate: "", "Generate", context);

    public override Task GenerateStream(GenerateRequest request, IServerStreamWriter<GenerateStreamResponse> responseStream, ServerCallContext context) =>
        request.Adapters.Count > 0
            ? FanOutStreamAsync(request, responseStream, context)
            : StreamAsync(GenerationMapper.ToDomain(request, limits, Deadline(context)), chatTemplate: "", "GenerateStream", responseStream, context);

    public override Task<GenerateResponse> Chat(ChatRequest request, ServerCallContext context)
    {
        var (generation, prompt) = ChatToDomain(request, context);
        return GenerateWholeAsync(generation, prompt.Template, "Chat", context, prompt.Tools);
    }

    public override Task ChatStream(ChatRequest request, IServerStreamWriter<GenerateStreamResponse> responseStream, ServerCallContext context)
    {
        var (generation, prompt) = ChatToDomain(request, context);
        return StreamAsync(generation, prompt.Template, "ChatStream", responseStream, context, prompt.Tools);
    }

    private (GenerationRequest Generation, ChatPrompt Prompt) ChatToDomain(ChatRequest request, ServerCallContext context)
    {
        var conversation = GrpcChat.ToConversation(request);
        var options = GenerationMapper.Options(request.Params);
        var prompt = ChatTemplates.Render(conversation, engine.Model, limits, formatConstrained: options.FormatConstrained);
        return (GenerationMapper.ToDomain(request.Adapter, options, conversation, prompt, limits, Deadline(context)), prompt);
    }

    public override Task<TokenizeResponse> Tokenize(TokenizeRequest request, ServerCallContext context) =>
        Task.FromResult(TokenizationMapper.Tokenize(request, engine, registry, limits));

    public override Task<DetokenizeResponse> Detokenize(DetokenizeRequest request, ServerCallContext context) =>
        Task.FromResult(TokenizationMapper.Detokenize(request, engine, registry, limits));

    public override async Task<ClassifyResponse> Classify(ClassifyRequest request, ServerCallContext context)
    {
        var classification = ClassificationMapper.ToDomain(request, limits, Deadline(context));
        using var activity = StartActivity("Classify", request.Adapter);
        var result = await engine.ClassifyAsync(classification, context.CancellationToken);
        return ClassificationMapper.ToProto(result);
    }

    /// <inheritdoc />
    public override async Task<EmbedResponse> Embed(EmbedRequest request, ServerCallContext context)
    {
        var embedding = ClassificationMapper.ToDomain(request, limits, Deadline(context));
        using var activity = StartActivity("Embed", request.Adapter);
        var result = await engine.EmbedAsync(embedding, context.CancellationToken);
        return ClassificationMapper.ToProto(result);
    }

    private async Task<GenerateResponse> GenerateWholeAsync(
        GenerationRequest generation, string chatTemplate, string rpc, ServerCallContext context, ToolUse? tools = null)
    {
        using var activity = StartActivity(rpc, generation.Adapter);
        var response = new GenerateResponse();
        var text = new StringBuilder();
        GenerationFinished? end = null;
        await foreach (var generationEvent in engine.GenerateAsync(generation, context.CancellationToken))
        {
            switch (generationEvent)
            {
                case TokenDelta delta:
                    GenerationMapper.Append(response, text, delta, engine.TokenBytes);
                    break;
                case GenerationFinished finished:
                    end = finished;
                    Finished(activity, generation.Adapter, finished);
                    break;
            }
        }
        response.Text = text.ToString();
        if (end is not null)
        {
            // After the text: tool calls are parsed out of the whole reply.
            GenerationMapper.Complete(response, end, chatTemplate, tools);
        }

        return response;
    }

    // The handler is the stream's only writer: one loop reads the engine's events and writes each frame.
    // With tools, the deltas carry the raw reply and the final frame the calls parsed from all of it.
    private async Task StreamAsync(
        GenerationRequest generation, string chatTemplate, string rpc, IServerStreamWriter<GenerateStreamResponse> responseStream, ServerCallContext context,
        ToolUse? tools = null)
    {
        using var activity = StartActivity(rpc, generation.Adapter);
        var whole = new StringBuilder();
        await foreach (var generationEvent in engine.GenerateAsync(generation, context.CancellationToken))
        {
            switch (generationEvent)
            {
                case TokenDelta delta:
                    if (tools is not null)
                    {
                        whole.Append(delta.Text);
                    }

                    await responseStream.WriteAsync(GenerationMapper.ToFrame(delta, engine.TokenBytes), context.CancellationToken);
                    break;
                case GenerationFinished finished:
                    Finished(activity, generation.Adapter, finished);
                    await responseStream.WriteAsync(GenerationMapper.ToFrame(finished, chatTemplate, tools, whole.ToString()), context.CancellationToken);
                    break;
            }
        }
    }

    private async Task<GenerateResponse> FanOutWholeAsync(GenerateRequest request, ServerCallContext context)
    {
        var generations = FanOutGeneration.ToDomain(request, limits, Deadline(context));
        using var activity = StartFanOutActivity("Generate", request);
        // Metrics and usage count each completion under its own adapter; the span keeps the call's tags, not one completion's.
        return await FanOutGeneration.CollectAsync(engine, request, generations,
            (index, finished) => Finished(null, generations[index].Adapter, finished), context.CancellationToken);
    }

    private async Task FanOutStreamAsync(GenerateRequest request, IServerStreamWriter<GenerateStreamResponse> responseStream, ServerCallContext context)
    {
        var generations = FanOutGeneration.ToDomain(request, limits, Deadline(context));
        using var activity = StartFanOutActivity("GenerateStream", request);
        await FanOutGeneration.StreamAsync(engine, generations, responseStream,
            (index, finished) => Finished(null, generations[index].Adapter, finished), context.CancellationToken);
    }

    private void Finished(Activity? activity, string? adapter, GenerationFinished finished)
    {
        metrics.GenerationFinished(adapterLabels.For(adapter, succeeded: true), finished);
        if (activity is null)
        {
            return;
        }

        activity.SetTag("inferserver.served_from", InferServerMetrics.ServedFromLabel(finished.ServedFrom));
        activity.SetTag("inferserver.prompt_tokens", finished.Usage.PromptTokens);
        activity.SetTag("inferserver.completion_tokens", finished.Usage.CompletionTokens);
        activity.SetTag("inferserver.finish_reason", finished.Reason.ToString());
        GenerationTrace.RecordPhases(activity, finished.Timing);
    }

    private static Activity? StartFanOutActivity(string rpc, GenerateRequest request)
    {
        var activity = StartActivity(rpc, string.Join(",", request.Adapters.Select(a => a.Length == 0 ? AdapterLabels.Base : a)));
        activity?.SetTag("inferserver.completions", request.Adapters.Count);
        return activity;
    }

    private static Activity? StartActivity(string rpc, string? adapter)
    {
        // Child of ASP.NET Core's server span for the HTTP/2 request, when one is being recorded.
        var activity = InferServerTelemetry.ActivitySource.StartActivity($"inferserver.{rpc}");
        activity?.SetTag("inferserver.adapter", string.IsNullOrEmpty(adapter) ? AdapterLabels.Base : adapter);
        return activity;
    }

    /// <summary>The call's deadline, if the client set one (grpc-dotnet reports none as DateTime.MaxValue).</summary>
    internal static DateTimeOffset? Deadline(ServerCallContext context) =>
        context.Deadline == DateTime.MaxValue ? null : new DateTimeOffset(DateTime.SpecifyKind(context.Deadline, DateTimeKind.Utc));
}
