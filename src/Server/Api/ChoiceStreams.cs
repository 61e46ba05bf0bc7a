using System.Threading.Channels;
using InferServer.Engine;

namespace InferServer.Server.Api;

/// <summary>
/// The engine generations behind one request (an OpenAI request's prompts × n, a gRPC fan-out's adapters), merged into
/// one sequence of (choice, event).
/// <see cref="StartAsync"/> returns once every choice has produced its first event, so a refusal (unknown adapter,
/// full queue, bad prompt) is thrown before any response byte is written and becomes an HTTP status, not a stream
/// error. After that, one pump per choice feeds a channel whose single reader is the response writer.
/// </summary>
public sealed class ChoiceStreams : IAsyncDisposable
{
    private readonly CancellationTokenSource cancellation;
    private readonly IAsyncEnumerator<GenerationEvent>[] enumerators;
    private readonly Channel<(int Choice, GenerationEvent Event)> events = Channel.CreateUnbounded<(int, GenerationEvent)>(
        new UnboundedChannelOptions { SingleReader = true });
    private Task pumps = Task.CompletedTask;

    private ChoiceStreams(CancellationTokenSource cancellation, IAsyncEnumerator<GenerationEvent>[] enumerators)
    {
        this.cancellation = cancellation;
        this.enumerators = enumerators;
    }

    /// <summary>Submits every request and waits for each one's first event; throws the first refusal, cancelling the rest.</summary>
    public static async Task<ChoiceStreams> StartAsync(
        IInferenceEngine engine, IReadOnlyList<GenerationRequest> requests, CancellationToken cancellationToken)
    {
        var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var enumerators = requests.Select(request => engine.GenerateAsync(request, cancellation.Token).GetAsyncEnumerator(cancellation.Token)).ToArray();
        var streams = new ChoiceStreams(cancellation, enumerators);
        var firsts = enumerators.Select(enumerator => enumerator.MoveNextAsync().AsTask()).ToArray();
        // One refusal ends the wait for the others' first tokens.
        foreach (var first in firsts)
        {
            _ = first.ContinueWith(_ => cancellation.Cancel(), CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        try
        {
            await Task.WhenAll(firsts);
        }
        catch
        {
            await cancellation.CancelAsync();
            // Report the cause, not the cancellations it led to.
            var cause = firsts.Where(first => first.IsFaulted).Select(first => first.Exception!.InnerException!)
                .FirstOrDefault(exception => exception is not OperationCanceledException)
                ?? firsts.First(first => !first.IsCompletedSuccessfully).Exception?.InnerException
                ?? new OperationCanceledException(cancellationToken);
            await streams.DisposeAsync();
            throw cause;
        }
        foreach (var (first, choice) in firsts.Select((first, choice) => (first, choice)))
        {
            if (!first.Result)
            {
                throw new InvalidOperationException($"choice {choice}'s generation ended without a final event");
            }

            streams.events.Writer.TryWrite((choice, enumerators[choice].Current));
        }
        streams.pumps = streams.PumpAllAsync();
        return streams;
    }

    /// <summary>Every event of every choice, in the order produced; throws the first failure of any choice.</summary>
    public IAsyncEnumerable<(int Choice, GenerationEvent Event)> ReadAllAsync(CancellationToken cancellationToken) =>
        events.Reader.ReadAllAsync(cancellationToken);

    private async Task PumpAllAsync()
    {
        try
        {
            await Task.WhenAll(enumerators.Select(PumpAsync));
            events.Writer.TryComplete();
        }
        catch (Exception exception)
        {
            events.Writer.TryComplete(exception);
            await cancellation.CancelAsync();
        }
    }

    private async Task PumpAsync(IAsyncEnumerator<GenerationEvent> enumerator, int choice)
    {
        await Task.Yield();
        while (await enumerator.MoveNextAsync())
        {
            events.Writer.TryWrite((choice, enumerator.Current));
        }
    }

    /// <summary>Cancels whatever still runs (a client that left, a sibling that failed) and releases the engine requests.</summary>
    public async ValueTask DisposeAsync()
    {
        await cancellation.CancelAsync();
        await Task.WhenAll(pumps).ContinueWith(_ => { }, TaskScheduler.Default);
        foreach (var enumerator in enumerators)
        {
            try
            {
                await enumerator.DisposeAsync();
            }
            catch (OperationCanceledException)
            {
                // Cancelled by us: the expected way out.
            }
        }
        cancellation.Dispose();
    }
}
