using Grpc.Core;
using Grpc.Net.Client;
using InferServer.Api.V1;
using InferServer.LoadGen.Results;
using InferServer.LoadGen.Running;
using InferServer.LoadGen.Scenarios;

namespace InferServer.LoadGen.Targets;

/// <summary>Sends requests to a server through the generated gRPC client, over one channel shared by every worker.</summary>
public sealed class GrpcGenerationTarget : IGenerationTarget
{
    private readonly GrpcChannel channel;
    private readonly Inference.InferenceClient client;
    private readonly RequestSettings settings;
    private readonly Metadata headers;

    public GrpcGenerationTarget(GrpcChannel channel, RequestSettings settings, string? apiKey)
    {
        this.channel = channel;
        this.settings = settings;
        client = new Inference.InferenceClient(channel);
        headers = apiKey is { Length: > 0 } ? new Metadata { { "authorization", $"Bearer {apiKey}" } } : [];
        Description = $"grpc {channel.Target}";
    }

    /// <summary>
    /// A channel for load: several HTTP/2 connections when one fills its stream limit (100 concurrent streams by
    /// default in Kestrel), so high concurrency is not queued on the client side.
    /// </summary>
    public static GrpcChannel CreateChannel(Uri target) => GrpcChannel.ForAddress(target, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        },
        MaxReceiveMessageSize = 16 * 1024 * 1024,
    });

    public string Description { get; }

    public async Task<RequestOutcome> SendAsync(PlannedRequest request, double start, RunClock clock, CancellationToken cancellationToken)
    {
        double? firstToken = null;
        try
        {
            switch (settings.Kind)
            {
                case RequestKind.Generate:
                    {
                        var response = await client.GenerateAsync(BuildGenerate(request), headers, cancellationToken: cancellationToken);
                        return Success(request, start, null, clock.Now, response.Usage?.CompletionTokens ?? 0, response.Timing, response.ServedFrom);
                    }
                case RequestKind.Stream:
                    {
                        using var call = client.GenerateStream(BuildGenerate(request), headers, cancellationToken: cancellationToken);
                        await foreach (var frame in call.ResponseStream.ReadAllAsync(cancellationToken))
                        {
                            if (frame.FrameCase == GenerateStreamResponse.FrameOneofCase.Delta && firstToken is null && frame.Delta.TokenIds.Count > 0)
                                firstToken = clock.Now;
                            if (frame.FrameCase == GenerateStreamResponse.FrameOneofCase.Final)
                            {
                                var final = frame.Final;
                                return Success(request, start, firstToken, clock.Now, final.Usage?.CompletionTokens ?? 0, final.Timing, final.ServedFrom);
                            }
                        }
                        // The contract promises exactly one final frame; a stream without one is a server bug worth counting.
                        return Failure(request, start, clock.Now, "StreamEndedWithoutFinal");
                    }
                case RequestKind.Classify:
                    {
                        var classify = new ClassifyRequest { Adapter = request.Adapter };
                        classify.Texts.AddRange(Enumerable.Range(0, settings.ClassifyTexts).Select(i => settings.Prompt(request.Index + i)));
                        var response = await client.ClassifyAsync(classify, headers, cancellationToken: cancellationToken);
                        return new RequestOutcome(request.Index, request.Adapter, "OK", start, null, clock.Now, 0, null, null, response.ServedFrom.ToString());
                    }
                case RequestKind.Embed:
                    {
                        var embed = new EmbedRequest { Adapter = request.Adapter };
                        embed.Texts.AddRange(Enumerable.Range(0, settings.ClassifyTexts).Select(i => settings.Prompt(request.Index + i)));
                        var response = await client.EmbedAsync(embed, headers, cancellationToken: cancellationToken);
                        return new RequestOutcome(request.Index, request.Adapter, "OK", start, null, clock.Now, 0, null, null, response.ServedFrom.ToString());
                    }
                default:
                    throw new InvalidOperationException($"request kind {settings.Kind}");
            }
        }
        catch (RpcException exception)
        {
            return Failure(request, start, clock.Now, exception.StatusCode.ToString());
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Failure(request, start, clock.Now, "CancelledAtRunEnd");
        }
    }

    private GenerateRequest BuildGenerate(PlannedRequest request) => new()
    {
        Adapter = request.Adapter,
        Text = settings.Prompt(request.Index),
        Params = new GenerationParams
        {
            // Greedy and EOS ignored: every request does the same amount of work, so runs compare token for token.
            Sampling = new SamplingParams { Temperature = 0 },
            MaxNewTokens = settings.MaxNewTokens,
            IgnoreEos = true,
        },
    };

    private static RequestOutcome Success(PlannedRequest request, double start, double? firstToken, double end, int tokens, Timing? timing, ServedFrom servedFrom) =>
        new(request.Index, request.Adapter, "OK", start, firstToken, end, tokens, timing?.TimeToFirstTokenMs, timing?.AdapterLoadMs, servedFrom.ToString());

    private static RequestOutcome Failure(PlannedRequest request, double start, double end, string status) =>
        new(request.Index, request.Adapter, status, start, null, end, 0, null, null, null);

    public ValueTask DisposeAsync()
    {
        channel.Dispose();
        return ValueTask.CompletedTask;
    }
}
