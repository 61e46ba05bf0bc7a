using Grpc.Core;
using Grpc.Health.V1;
using InferServer.LoadGen.Targets;

namespace InferServer.LoadGen.Commands;

/// <summary>wait-health: polls grpc.health.v1 until the server reports SERVING, bounded by --timeout.</summary>
public static class WaitHealthCommand
{
    public static async Task<int> ExecuteAsync(CommandLine commandLine)
    {
        var target = new Uri(commandLine.String("target", "http://127.0.0.1:50051"));
        var allowRemote = commandLine.Flag("allow-remote");
        var timeout = TimeSpan.FromSeconds(commandLine.Double("timeout", 300, 1, 3600));
        if (commandLine.Unused() is { Count: > 0 } unused) throw new ArgumentException($"unknown options {string.Join(' ', unused)}");
        if (LoopbackGuard.Check(target, allowRemote) is { } refusal) throw new ArgumentException(refusal);

        using var channel = GrpcGenerationTarget.CreateChannel(target);
        var health = new Health.HealthClient(channel);
        using var overall = new CancellationTokenSource(timeout);
        string last = "no answer";
        while (!overall.IsCancellationRequested)
        {
            try
            {
                var reply = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: overall.Token);
                if (reply.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    Console.WriteLine($"{target} is SERVING");
                    return 0;
                }
                last = reply.Status.ToString();
            }
            catch (RpcException exception)
            {
                last = exception.StatusCode.ToString();
            }
            try { await Task.Delay(TimeSpan.FromMilliseconds(500), overall.Token); }
            catch (OperationCanceledException) { break; }
        }
        Console.Error.WriteLine($"{target} not SERVING after {timeout.TotalSeconds:0} s (last: {last})");
        return 1;
    }
}
