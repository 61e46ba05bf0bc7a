using System.Diagnostics;
using Grpc.Core;
using InferServer.Api.V1;
using InferServer.LoadGen.Targets;

namespace InferServer.LoadGen.MultiTurn;

/// <summary>Runs every conversation at once over gRPC streaming, each one turn after another, and times each turn's first token.</summary>
public static class MultiTurnDriver
{
    public static async Task<MultiTurnResult> RunAsync(MultiTurnOptions options, CancellationToken cancellationToken)
    {
        var plan = ConversationPlan.Create(options);
        using var channel = GrpcGenerationTarget.CreateChannel(options.Target);
        var client = new Inference.InferenceClient(channel);
        var headers = options.ApiKey is { Length: > 0 } key ? new Metadata { { "authorization", $"Bearer {key}" } } : [];
        // Every adapter reaches host memory and a device slot first, so turn 1 measures prefill, not a read from disk.
        // The warm-up prompt is shorter than a KV block: it leaves nothing in the prefix cache.
        foreach (var adapter in plan.Adapters.Distinct())
        {
            await SendTurnAsync(client, headers, new GenerateRequest
            {
                Adapter = adapter,
                TokenIds = new TokenIds { Ids = { 100, 101, 102 } },
                Params = new GenerationParams { Sampling = new SamplingParams { Temperature = 0 }, MaxNewTokens = 1, IgnoreEos = true },
            }, -1, 0, [], cancellationToken);
        }

        var loadStart = LoadAverage();
        var clock = Stopwatch.StartNew();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, options.Conversations)
            .Select(conversation => RunConversationAsync(client, headers, plan, options, conversation, cancellationToken)));
        var seconds = clock.Elapsed.TotalSeconds;
        return new MultiTurnResult(options.Label, options.Round, options, seconds, loadStart, LoadAverage(), [.. outcomes.SelectMany(o => o)]);
    }

    private static async Task<List<TurnOutcome>> RunConversationAsync(Inference.InferenceClient client, Metadata headers, ConversationPlan plan,
        MultiTurnOptions options, int conversation, CancellationToken cancellationToken)
    {
        var history = new List<int>(plan.SystemPrompts[conversation]);
        var outcomes = new List<TurnOutcome>();
        for (var turn = 0; turn < options.Turns; turn++)
        {
            history.AddRange(plan.UserTurns[conversation][turn]);
            var request = new GenerateRequest
            {
                Adapter = plan.Adapters[conversation],
                TokenIds = new TokenIds { Ids = { history } },
                Params = new GenerationParams
                {
                    Sampling = new SamplingParams { Temperature = 0 },
                    MaxNewTokens = options.MaxNewTokens,
                    IgnoreEos = true,
                },
            };
            var outcome = await SendTurnAsync(client, headers, request, conversation, turn + 1, history, cancellationToken);
            outcomes.Add(outcome);
            if (outcome.Status != "OK")
            {
                break; // the conversation cannot go on without its answer
            }
        }

        return outcomes;
    }

    /// <summary>Streams one turn; appends the generated ids to <paramref name="history"/>.</summary>
    private static async Task<TurnOutcome> SendTurnAsync(Inference.InferenceClient client, Metadata headers, GenerateRequest request,
        int conversation, int turn, List<int> history, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        double? ttft = null;
        try
        {
            using var call = client.GenerateStream(request, headers, cancellationToken: cancellationToken);
            await foreach (var frame in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                if (frame.FrameCase == GenerateStreamResponse.FrameOneofCase.Delta && frame.Delta.TokenIds.Count > 0)
                {
                    ttft ??= clock.Elapsed.TotalMilliseconds;
                    history.AddRange(frame.Delta.TokenIds);
                }
                else if (frame.FrameCase == GenerateStreamResponse.FrameOneofCase.Final)
                {
                    var usage = frame.Final.Usage;
                    return new TurnOutcome(conversation, turn, "OK", ttft, usage.PromptTokens, usage.CachedPromptTokens, usage.CompletionTokens);
                }
            }
            return new TurnOutcome(conversation, turn, "StreamEndedWithoutFinal", ttft, 0, 0, 0);
        }
        catch (RpcException exception)
        {
            return new TurnOutcome(conversation, turn, exception.StatusCode.ToString(), ttft, 0, 0, 0);
        }
    }

    /// <summary>The 1-minute load average (Linux), NaN elsewhere: every published figure states it.</summary>
    public static double LoadAverage()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg");
            return double.Parse(text.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }
}
