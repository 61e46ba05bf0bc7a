using System.Collections.Concurrent;
using InferServer.Engine;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferServer.Engine.Tests;

/// <summary>
/// The supervisor is written once for both modes and talks to them only through <see cref="IEngineMode"/>: a scripted
/// mode shows its failure counting on its own (the real modes' share is in Reliability/EngineSupervisionTests).
/// </summary>
public sealed class EngineSupervisorTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task FailedStepsAndFailedTurnsInARow_FaultTheEngine_AndEndEveryRequestAsFaulted()
    {
        var mode = new ScriptedMode(Turns.FailedStep, Turns.Throw, Turns.FailedStep, Turns.Throw, Turns.FailedStep);
        var (supervisor, admission) = Start(mode);

        await supervisor.Stopped.WaitAsync(Timeout);

        Assert.IsType<InvalidOperationException>(supervisor.Fault);
        Assert.Equal(EngineStoppedException.Faulted().Message, Assert.IsType<EngineStoppedException>(mode.EndedWith).Message);
        Assert.Equal(EngineStoppedException.Faulted().Message, Assert.IsType<EngineStoppedException>(mode.ArrivalsRefusedWith).Message);
        Assert.Throws<EngineStoppedException>(() => admission.TakePlace());
    }

    [Fact]
    public async Task IdleTurnsBetweenFailures_DoNotResetTheCount()
    {
        var mode = new ScriptedMode(Turns.Throw, Turns.Idle, Turns.FailedStep, Turns.Idle, Turns.Throw, Turns.Idle, Turns.FailedStep, Turns.Idle, Turns.Throw);
        var (supervisor, _) = Start(mode);

        await supervisor.Stopped.WaitAsync(Timeout);

        Assert.NotNull(supervisor.Fault);
    }

    [Fact]
    public async Task AGoodStepBetweenFailures_ResetsTheCount_AndAStopEndsRequestsAsStopped()
    {
        var failures = Enumerable.Repeat(Turns.Throw, EngineSupervisor.MaxConsecutiveFailures - 1);
        var mode = new ScriptedMode([.. failures, Turns.GoodStep, .. failures]);
        var (supervisor, _) = Start(mode);
        await Poll.UntilAsync(() => mode.ScriptDone && supervisor.Status.Steps == 1, Timeout);

        await supervisor.StopAsync(TimeSpan.Zero).WaitAsync(Timeout);

        Assert.Null(supervisor.Fault);
        Assert.Equal(2 * (EngineSupervisor.MaxConsecutiveFailures - 1), mode.FailedTurns);
        Assert.Equal(new EngineStoppedException().Message, Assert.IsType<EngineStoppedException>(mode.EndedWith).Message);
    }

    private static (EngineSupervisor Supervisor, EngineAdmission Admission) Start(ScriptedMode mode)
    {
        var adapters = new BaseOnlyAdapters();
        var admission = new EngineAdmission(new EngineOptions(), adapters);
        var supervisor = new EngineSupervisor(mode, admission, mode.Counters, adapters, 0, NullLogger.Instance, TimeProvider.System);
        supervisor.Start();
        return (supervisor, admission);
    }

    private enum Turns
    {
        Idle,
        GoodStep,
        FailedStep,
        Throw,
    }

    /// <summary>Plays its turns in order, then idles; records what the supervisor asked of it.</summary>
    private sealed class ScriptedMode(params Turns[] script) : IEngineMode
    {
        private readonly ConcurrentQueue<Turns> remaining = new(script);
        private int failedTurns;

        public EngineCounters Counters { get; } = new();

        public bool ScriptDone => remaining.IsEmpty;

        public int FailedTurns => Volatile.Read(ref failedTurns);

        public Exception? EndedWith { get; private set; }

        public Exception? ArrivalsRefusedWith { get; private set; }

        public EngineModelInfo Model { get; } = new("scripted", "none", ModelKind.TextGeneration, 16, null, []);

        public ModeLoad Load => ModeLoad.None;

        public GenerationSequence Submit(GenerationRequest request) => throw new NotSupportedException();

        public ClassificationJob Submit(ClassificationRequest request) => throw new NotSupportedException();

        public TurnOutcome Turn()
        {
            if (!remaining.TryDequeue(out var turn))
                return TurnOutcome.Idle;
            switch (turn)
            {
                case Turns.GoodStep:
                    Counters.StepRan(1);
                    return TurnOutcome.Stepped;
                case Turns.FailedStep:
                    return TurnOutcome.Failed(new InvalidOperationException("scripted: the step failed"));
                case Turns.Throw:
                    throw new InvalidOperationException("scripted: the turn threw");
                default:
                    return TurnOutcome.Idle;
            }
        }

        public void FailTurn(Exception error) => Interlocked.Increment(ref failedTurns);

        public void EndAll(Exception error) => EndedWith = error;

        public void RefuseArrivals(Exception error) => ArrivalsRefusedWith = error;

        public void Dispose()
        {
        }
    }
}
