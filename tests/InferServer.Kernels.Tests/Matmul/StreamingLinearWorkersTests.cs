using InferServer.Kernels.Matmul;

namespace InferServer.Kernels.Tests.Matmul;

/// <summary>
/// The threads StreamingLinear splits a call over: every part runs once, part 0 on the caller, a worker's exception reaches
/// the caller and leaves the workers usable, and calls from several threads at once all finish with every part run.
/// </summary>
public sealed class StreamingLinearWorkersTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void Run_RunsEveryPartOnce_PartZeroOnTheCaller(int parts)
    {
        var runs = new int[parts];
        var partZeroThread = -1;

        StreamingWorkers.Run(parts, part =>
        {
            Interlocked.Increment(ref runs[part]);
            if (part == 0)
            {
                partZeroThread = Environment.CurrentManagedThreadId;
            }
        });

        Assert.All(runs, count => Assert.Equal(1, count));
        Assert.Equal(Environment.CurrentManagedThreadId, partZeroThread);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Run_RethrowsAPartsException_AndTheWorkersStayUsable(int failingPart)
    {
        var error = Assert.Throws<InvalidOperationException>(() => StreamingWorkers.Run(2, part =>
        {
            if (part == failingPart)
            {
                throw new InvalidOperationException($"part {part}");
            }
        }));
        Assert.Equal($"part {failingPart}", error.Message);

        var runs = new int[2];
        StreamingWorkers.Run(2, part => Interlocked.Increment(ref runs[part]));
        Assert.Equal([1, 1], runs);
    }

    [Fact]
    public async Task Run_CalledFromInsideAPart_RunsEveryPartOfBothCallsOnce()
    {
        // The caller holds the gate while it runs part 0; a nested Run there must not re-arm the workers still on the outer call.
        var outer = new int[3];
        var inner = new int[3];

        await Task.Run(() => StreamingWorkers.Run(3, part =>
        {
            if (part == 0)
            {
                StreamingWorkers.Run(3, innerPart => Interlocked.Increment(ref inner[innerPart]));
            }

            Thread.Sleep(20); // keeps the workers on the outer call while the nested one runs
            Interlocked.Increment(ref outer[part]);
        })).WaitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(100); // a worker re-armed by the nested call would run a part late, after Run returned

        Assert.Equal([1, 1, 1], outer);
        Assert.Equal([1, 1, 1], inner);
    }

    [Fact]
    public async Task Run_FromSeveralThreadsAtOnce_RunsEveryPartOfEveryCall()
    {
        const int callers = 4, calls = 300, parts = 3;
        var runs = new int[callers, parts];

        var tasks = Enumerable.Range(0, callers).Select(caller => Task.Run(() =>
        {
            for (var call = 0; call < calls; call++)
            {
                StreamingWorkers.Run(parts, part => Interlocked.Increment(ref runs[caller, part]));
            }
        })).ToArray();

        // A hang (a worker that never signals) fails here instead of stalling the run.
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
        for (var caller = 0; caller < callers; caller++)
        {
            for (var part = 0; part < parts; part++)
            {
                Assert.Equal(calls, runs[caller, part]);
            }
        }
    }
}
