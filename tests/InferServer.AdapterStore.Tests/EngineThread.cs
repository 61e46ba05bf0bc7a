using System.Collections.Concurrent;

namespace InferServer.AdapterStore.Tests;

/// <summary>
/// A dedicated thread that runs posted work in order, as the server's engine thread does: the device slot table and the
/// merge cache belong to one thread, while async test code hops between pool threads.
/// </summary>
internal sealed class EngineThread : IDisposable
{
    private readonly BlockingCollection<Action> work = [];
    private readonly Thread thread;

    public EngineThread()
    {
        thread = new Thread(() =>
        {
            foreach (var action in work.GetConsumingEnumerable())
            {
                action();
            }
        })
        { IsBackground = true, Name = "test engine" };
        thread.Start();
    }

    public Task<T> RunAsync<T>(Func<T> function)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        work.Add(() =>
        {
            try
            {
                completion.SetResult(function());
            }
            catch (Exception e)
            {
                completion.SetException(e);
            }
        });
        return completion.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    public Task RunAsync(Action action) => RunAsync(() =>
    {
        action();
        return true;
    });

    public void Dispose()
    {
        work.CompleteAdding();
        thread.Join(TimeSpan.FromSeconds(60));
        work.Dispose();
    }
}
