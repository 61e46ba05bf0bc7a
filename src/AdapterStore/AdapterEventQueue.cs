using Microsoft.Extensions.Logging;

namespace InferServer.AdapterStore;

/// <summary>
/// How the adapter tiers raise <see cref="AdapterEvent"/>s: queued while their owner holds its lock and raised after it
/// has let go (<see cref="Raise"/>), so a handler may call back into the owner; a handler that throws is logged and never
/// breaks serving (the handlers are metrics and health).
/// </summary>
public sealed partial class AdapterEventQueue(ILogger logger)
{
    private readonly Lock gate = new();
    private readonly List<AdapterEvent> pending = [];

    /// <summary>Queues an event; raised, in order, by the next <see cref="Raise"/>.</summary>
    public void Add(AdapterEvent adapterEvent)
    {
        lock (gate)
        {
            pending.Add(adapterEvent);
        }
    }

    /// <summary>Raises every queued event to <paramref name="handler"/>. Call it holding no lock of the owner's.</summary>
    public void Raise(object sender, EventHandler<AdapterEvent>? handler)
    {
        AdapterEvent[] events;
        lock (gate)
        {
            if (pending.Count == 0)
            {
                return;
            }

            events = [.. pending];
            pending.Clear();
        }

        foreach (var adapterEvent in events)
        {
            RaiseNow(logger, sender, handler, adapterEvent);
        }
    }

    /// <summary>Raises one event at once (for owners that raise outside any lock), logging a handler that throws.</summary>
    public static void RaiseNow(ILogger logger, object sender, EventHandler<AdapterEvent>? handler, AdapterEvent adapterEvent)
    {
        try
        {
            handler?.Invoke(sender, adapterEvent);
        }
        catch (Exception e)
        {
            LogHandlerFailed(logger, e, adapterEvent.Kind, adapterEvent.Name);
        }
    }

    [LoggerMessage(EventId = 7, EventName = "AdapterEventHandlerFailed", Level = LogLevel.Error,
        Message = "An adapter event handler failed on {Kind} of {AdapterName}")]
    private static partial void LogHandlerFailed(ILogger logger, Exception error, AdapterEventKind kind, string adapterName);
}
