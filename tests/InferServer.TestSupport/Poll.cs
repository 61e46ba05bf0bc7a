namespace InferServer.TestSupport;

/// <summary>
/// Waits for what a server or an engine publishes a moment later (status once per step, metrics after the response):
/// polls every 5 ms instead of sleeping a fixed time, and fails with a timeout if the condition never holds.
/// </summary>
public static class Poll
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static Task UntilAsync(Func<bool> condition, TimeSpan? timeout = null) =>
        UntilAsync(() => Task.FromResult(condition()), timeout);

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        using var cancellation = new CancellationTokenSource(timeout ?? DefaultTimeout);
        while (!await condition())
            await Task.Delay(5, cancellation.Token);
    }
}
