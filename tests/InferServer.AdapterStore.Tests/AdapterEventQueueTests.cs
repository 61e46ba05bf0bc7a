using Microsoft.Extensions.Logging;

namespace InferServer.AdapterStore.Tests;

public sealed class AdapterEventQueueTests
{
    [Fact]
    public void QueuedEvents_AreRaisedInOrder_OnlyByRaise_AndOnce()
    {
        var queue = new AdapterEventQueue(new CountingLogger());
        var seen = new List<string>();
        EventHandler<AdapterEvent> handler = (_, e) => seen.Add(e.Name);
        queue.Add(new AdapterEvent(AdapterEventKind.Loaded, "a", AdapterTier.Host, 1));
        queue.Add(new AdapterEvent(AdapterEventKind.Evicted, "b", AdapterTier.Host, 1));
        Assert.Empty(seen);

        queue.Raise(this, handler);
        queue.Raise(this, handler);

        Assert.Equal(["a", "b"], seen);
    }

    [Fact]
    public void AHandlerThatThrows_IsLogged_AndTheLaterEventsStillArrive()
    {
        var logger = new CountingLogger();
        var queue = new AdapterEventQueue(logger);
        var seen = new List<string>();
        EventHandler<AdapterEvent> handler = (_, e) =>
        {
            seen.Add(e.Name);
            if (e.Name == "bad")
            {
                throw new InvalidOperationException("metrics broke");
            }
        };
        queue.Add(new AdapterEvent(AdapterEventKind.Loaded, "bad", AdapterTier.Host, 1));
        queue.Add(new AdapterEvent(AdapterEventKind.Loaded, "good", AdapterTier.Host, 1));

        queue.Raise(this, handler);
        AdapterEventQueue.RaiseNow(logger, this, handler, new AdapterEvent(AdapterEventKind.Unloaded, "bad", AdapterTier.Device, 1));

        Assert.Equal(["bad", "good", "bad"], seen);
        Assert.Equal(2, logger.Errors);
    }

    private sealed class CountingLogger : ILogger
    {
        public int Errors { get; private set; }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Error && exception is InvalidOperationException)
            {
                Errors++;
            }
        }
    }
}
