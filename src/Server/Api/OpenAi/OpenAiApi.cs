using System.Text.Json;
using InferServer.AdapterStore.Registry;
using InferServer.Engine;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// The OpenAI-compatible inference endpoints, thin like the gRPC services: read the body against an allow-list, map it
/// through the shared validation to engine requests, run them, map the results. Completions and chat are one handler,
/// what differs between them being an <see cref="OpenAiGeneration{TPiece, TChoice}"/>. Keys, errors, metrics and the
/// body are <see cref="OpenAiExchange"/>'s; the adapter endpoints are <see cref="OpenAiAdminApi"/>'s.
/// </summary>
public sealed partial class OpenAiApi(
    IInferenceEngine engine,
    IAdapterRegistry registry,
    OpenAiExchange exchange,
    IOptions<ApiOptions> options,
    TimeProvider timeProvider,
    ILogger<OpenAiApi> logger)
{
    private readonly ApiOptions limits = options.Value;
    private readonly long started = timeProvider.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>POST /v1/completions.</summary>
    public Task CompletionsAsync(HttpContext context) => GenerateAsync(context, "v1/completions", chat: false, CompletionGeneration.Read);

    /// <summary>POST /v1/chat/completions.</summary>
    public Task ChatCompletionsAsync(HttpContext context) => GenerateAsync(context, "v1/chat/completions", chat: true, ChatGeneration.Read);

    // Every choice of every prompt runs as its own engine request; their events are merged in arrival order. Streamed,
    // each event becomes the endpoint's chunks as it comes; whole, the choices are collected and written at the end.
    private Task GenerateAsync<TPiece, TChoice>(
        HttpContext context, string endpoint, bool chat, Func<JsonElement, ApiOptions, OpenAiGeneration<TPiece, TChoice>> read) =>
        exchange.HandleAsync(context, endpoint, ApiKeyScope.Inference, async call =>
        {
            // Chat names its logprobs fields apart from the first read on (a bad top_logprobs is "top_logprobs").
            call.ParamName = OpenAiFieldNames.Of(null, chat);
            var generation = read(await call.ReadBodyAsync(), limits);
            var common = generation.Common;
            call.ParamName = OpenAiFieldNames.Of(common.MaxTokensField, chat);
            call.Begin(common.Model, engine.Model);
            var requests = generation.ToDomain(engine.Model, limits);
            Log.Generation(logger, endpoint, common.Model, common.User ?? "", requests.Count, common.Stream);
            await using var streams = await ChoiceStreams.StartAsync(engine, requests, context.RequestAborted);
            var id = generation.IdPrefix + Guid.NewGuid().ToString("N");
            var created = call.UnixSeconds();
            var usages = new Engine.Usage?[requests.Count];
            var choices = Enumerable.Range(0, requests.Count).Select(index => generation.Choice(index, engine.TokenBytes)).ToArray();
            if (common.Stream)
            {
                call.StartEventStream();
                foreach (var piece in choices.SelectMany(choice => choice.Opening()))
                {
                    await call.WriteEventAsync(generation.Chunk(id, created, [piece], null));
                }

                await foreach (var (index, generationEvent) in streams.ReadAllAsync(context.RequestAborted))
                {
                    Count(call, usages, index, generationEvent);
                    foreach (var piece in choices[index].Stream(generationEvent))
                    {
                        await call.WriteEventAsync(generation.Chunk(id, created, [piece], null));
                    }
                }
                if (common.IncludeUsage)
                {
                    await call.WriteEventAsync(generation.Chunk(id, created, [], OpenAiMapper.Usage(usages, common.Choices)));
                }

                await call.WriteDoneAsync();
                return;
            }
            await foreach (var (index, generationEvent) in streams.ReadAllAsync(context.RequestAborted))
            {
                Count(call, usages, index, generationEvent);
                choices[index].Collect(generationEvent);
            }
            await call.WriteJsonAsync(generation.Response(id, created, [.. choices.Select(choice => choice.Whole())], OpenAiMapper.Usage(usages, common.Choices)));
        });

    private static void Count(OpenAiCall call, Engine.Usage?[] usages, int index, GenerationEvent generationEvent)
    {
        if (generationEvent is GenerationFinished finished)
        {
            usages[index] = finished.Usage;
            call.Finished(finished);
        }
    }

    /// <summary>POST /v1/embeddings: the engine's Embed (model = base or adapter), vectors as floats or base64.</summary>
    public Task EmbeddingsAsync(HttpContext context) => exchange.HandleAsync(context, "v1/embeddings", ApiKeyScope.Inference, async call =>
    {
        call.ParamName = OpenAiFieldNames.Texts;
        var embedding = OpenAiRequestReader.ReadEmbedding(await call.ReadBodyAsync(), limits);
        call.Begin(embedding.Model, engine.Model);
        Log.Generation(logger, call.Endpoint, embedding.Model, embedding.User ?? "", embedding.Input.Count, stream: false);
        var result = await engine.EmbedAsync(
            new EmbeddingRequest(OpenAiMapper.AdapterOf(embedding.Model, engine.Model), embedding.Input), context.RequestAborted);
        var width = result.Results[0].Vector.Length;
        // Vectors are never truncated: sentence-transformers models are not trained for it (OpenAI's v3 models are).
        if (embedding.Dimensions is { } dimensions && dimensions != width)
        {
            throw new RequestValidationException("dimensions", $"only the model's own width {width} is supported, not {dimensions}");
        }

        var data = result.Results.Select((text, index) => new EmbeddingItem("embedding", index,
            embedding.Base64 ? Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(text.Vector.AsSpan())) : text.Vector)).ToList();
        var tokens = result.Results.Sum(r => r.PromptTokens);
        await call.WriteJsonAsync(new EmbeddingList("list", data, embedding.Model, new EmbeddingUsage(tokens, tokens)));
    });

    /// <summary>
    /// POST /classify (vLLM's): {model, input} to {id, object "list", created, model, data: [{index, label, probs, num_classes}],
    /// usage}; probs are in label-index order and label is the most probable one (the lower index on a tie).
    /// </summary>
    public Task ClassifyAsync(HttpContext context) => exchange.HandleAsync(context, "classify", ApiKeyScope.Inference, async call =>
    {
        call.ParamName = OpenAiFieldNames.Texts;
        var classify = OpenAiRequestReader.ReadClassify(await call.ReadBodyAsync(), limits);
        call.Begin(classify.Model, engine.Model);
        Log.Generation(logger, call.Endpoint, classify.Model, classify.User ?? "", classify.Input.Count, stream: false);
        var result = await engine.ClassifyAsync(
            new ClassificationRequest(OpenAiMapper.AdapterOf(classify.Model, engine.Model), classify.Input), context.RequestAborted);
        var data = result.Results.Select((text, index) =>
        {
            var byIndex = text.Scores.OrderBy(score => score.Index).ToArray();
            var best = text.Scores.OrderByDescending(score => score.Score).ThenBy(score => score.Index).First();
            return new ClassificationItem(index, best.Label, byIndex.Select(score => score.Score).ToArray(), byIndex.Length);
        }).ToList();
        var tokens = result.Results.Sum(r => r.PromptTokens);
        await call.WriteJsonAsync(new ClassificationList("classify-" + Guid.NewGuid().ToString("N"), "list",
            call.UnixSeconds(), classify.Model, data, new ClassificationUsage(tokens, tokens, 0)));
    });

    /// <summary>POST /tokenize (vLLM's): {model, prompt | messages, add_special_tokens?, add_generation_prompt?} to {count, max_model_len, tokens}.</summary>
    public Task TokenizeAsync(HttpContext context) => exchange.HandleAsync(context, "tokenize", ApiKeyScope.Inference, async call =>
    {
        var (model, input) = OpenAiRequestReader.ReadTokenize(await call.ReadBodyAsync());
        var output = TokenizationMapper.Tokenize(input with { Adapter = OpenAiMapper.AdapterOf(model, engine.Model) }, engine, registry, limits);
        await call.WriteJsonAsync(new TokenizeResult(output.TokenIds.Count, output.MaxModelLen, output.TokenIds));
    });

    /// <summary>POST /detokenize (vLLM's): {model, tokens} to {prompt}.</summary>
    public Task DetokenizeAsync(HttpContext context) => exchange.HandleAsync(context, "detokenize", ApiKeyScope.Inference, async call =>
    {
        var (model, tokens) = OpenAiRequestReader.ReadDetokenize(await call.ReadBodyAsync());
        var prompt = TokenizationMapper.Detokenize(OpenAiMapper.AdapterOf(model, engine.Model), tokens, engine, registry, limits);
        await call.WriteJsonAsync(new DetokenizeResult(prompt));
    });

    /// <summary>GET /v1/models: the base model by its served name, then every registered adapter with the base as parent.</summary>
    public Task ModelsAsync(HttpContext context) => exchange.HandleAsync(context, "v1/models", ApiKeyScope.Inference, call =>
    {
        var model = engine.Model;
        var cards = new List<ModelCard> { new(model.ServedName, "model", started, "inferserver", model.ServedName, null, model.MaxContextTokens) };
        cards.AddRange(registry.List().OrderBy(adapter => adapter.Name, StringComparer.Ordinal)
            .Select(adapter => new ModelCard(adapter.Name, "model", started, "inferserver", adapter.Name, model.ServedName, model.MaxContextTokens)));
        return call.WriteJsonAsync(new ModelList("list", cards));
    });
}
