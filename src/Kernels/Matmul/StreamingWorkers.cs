using System.Runtime.ExceptionServices;

namespace InferServer.Kernels.Matmul;

/// <summary>
/// The threads that share a <see cref="StreamingLinear"/> call: the caller runs part 0 and a fixed set of long-lived workers
/// the other parts, woken by an event that spins briefly before it blocks.
/// </summary>
/// <remarks>
/// Why not <see cref="Parallel.For(int, int, Action{int})"/>: a decode step makes 29 such calls, a k or v projection of the
/// large model reads 4 MB in well under 100 µs, and Parallel.For queues its parts to the thread pool, whose workers may be
/// asleep, busy with the server's requests, or still being injected. Here each worker waits on its own event: a short
/// spin (bounded, so it gives the core back to libtorch's threads and the server when no call follows) and then a blocking
/// wait. One call at a time owns the workers; a second call that arrives meanwhile (another engine, a test in parallel)
/// runs all its parts on its own thread instead of waiting, which gives the same bits since the split does not change the
/// order of any sum.
/// </remarks>
internal static class StreamingWorkers
{
    private const int SpinCount = 200;

    private static readonly object Gate = new();
    private static readonly List<Worker> Workers = [];
    private static readonly ManualResetEventSlim Done = new(false, SpinCount);
    private static Action<int>? Current;
    private static int Pending;
    private static Exception? Failure;

    /// <summary>Runs <paramref name="part"/>(0 .. parts - 1), part 0 on the calling thread, and returns when all are done.</summary>
    public static void Run(int parts, Action<int> part)
    {
        // Monitor is reentrant: a part that itself calls Run would take the gate again and re-arm the workers of the call
        // still in flight (its Pending, Current and Done), so a nested call runs serially like any other contended one.
        if (parts <= 1 || Monitor.IsEntered(Gate) || !Monitor.TryEnter(Gate))
        {
            for (var i = 0; i < parts; i++)
            {
                part(i);
            }

            return;
        }

        try
        {
            while (Workers.Count < parts - 1)
            {
                Workers.Add(new Worker(Workers.Count + 1));
            }

            Current = part;
            Failure = null;
            Done.Reset();
            Volatile.Write(ref Pending, parts - 1);
            for (var i = 0; i < parts - 1; i++)
            {
                Workers[i].Go.Set();
            }

            Exception? own = null;
            try
            {
                part(0);
            }
            catch (Exception exception)
            {
                own = exception;
            }

            // Always wait for the workers, so that none is still on this call when the next one starts.
            Done.Wait();
            Current = null;
            if ((own ?? Failure) is { } error)
            {
                ExceptionDispatchInfo.Throw(error);
            }
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    private sealed class Worker
    {
        public Worker(int part)
        {
            var thread = new Thread(() => Loop(part)) { IsBackground = true, Name = $"StreamingLinear {part}" };
            thread.Start();
        }

        public ManualResetEventSlim Go { get; } = new(false, SpinCount);

        private void Loop(int part)
        {
            while (true)
            {
                Go.Wait();
                Go.Reset();
                try
                {
                    Current!(part);
                }
                catch (Exception exception)
                {
                    Failure = exception;
                }
                finally
                {
                    if (Interlocked.Decrement(ref Pending) == 0)
                    {
                        Done.Set();
                    }
                }
            }
        }
    }
}
