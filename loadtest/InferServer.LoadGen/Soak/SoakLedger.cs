using System.Collections.Concurrent;

namespace InferServer.LoadGen.Soak;

/// <summary>
/// Judges every ending as it happens and counts it. The rules: a call ends within its deadline plus one second; an
/// answer equals the solo answer of its adapter; and the status is one the call's fate allows — RESOURCE_EXHAUSTED
/// anywhere (a full queue refuses whoever comes), NOT_FOUND only on churned adapters, FAILED_PRECONDITION only on broken
/// adapters, INVALID_ARGUMENT only for invalid parameters, DEADLINE_EXCEEDED only under a short deadline. Anything else
/// (INTERNAL, UNKNOWN, UNAVAILABLE, a stream without its final frame, a client timeout) is a violation.
/// </summary>
public sealed class SoakLedger(int seed, SoloAnswers solo)
{
    private const int KeptViolations = 50;

    private readonly ConcurrentQueue<string> violations = new();
    private readonly ConcurrentDictionary<string, int> endings = new(StringComparer.Ordinal);
    private long requests, cancelled, deadline, unloads, lost, wrong, refused, violationCount;
    private long constrainedValid, toolRepliesValid, toolCalls, structuredUnfinished, structuredCancelled;

    public long Requests => Interlocked.Read(ref requests);
    public long Cancelled => Interlocked.Read(ref cancelled);
    public long Deadline => Interlocked.Read(ref deadline);
    public long Unloads => Interlocked.Read(ref unloads);
    public long Lost => Interlocked.Read(ref lost);
    public long Wrong => Interlocked.Read(ref wrong);
    public long Refused => Interlocked.Read(ref refused);
    public long ViolationCount => Interlocked.Read(ref violationCount);

    /// <summary>Completed constrained outputs that parsed and validated against their schema.</summary>
    public long ConstrainedValid => Interlocked.Read(ref constrainedValid);

    /// <summary>Completed tool chats whose reply held (forced: calls whose arguments validate), and the calls they carried.</summary>
    public long ToolRepliesValid => Interlocked.Read(ref toolRepliesValid);

    public long ToolCalls => Interlocked.Read(ref toolCalls);

    /// <summary>Structured calls that max_new_tokens ended mid-value (not checked: an unfinished value cannot validate).</summary>
    public long StructuredUnfinished => Interlocked.Read(ref structuredUnfinished);

    /// <summary>Structured streams the client cancelled mid-value.</summary>
    public long StructuredCancelled => Interlocked.Read(ref structuredCancelled);

    /// <summary>The first violations, each with what is needed to find it again.</summary>
    public IReadOnlyList<string> Violations => violations.ToArray();

    /// <summary>How calls ended, by fate and status ("Cancel/CancelledByClient": 812, …).</summary>
    public IReadOnlyDictionary<string, int> Endings => new SortedDictionary<string, int>(endings, StringComparer.Ordinal);

    public void CountUnload() => Interlocked.Increment(ref unloads);

    public void Violation(string what)
    {
        Interlocked.Increment(ref violationCount);
        if (violations.Count < KeptViolations) violations.Enqueue($"seed {seed}: {what}");
    }

    /// <summary>A call that had not ended <paramref name="budget"/> after it was sent.</summary>
    public void RecordLost(SoakCall call, TimeSpan budget)
    {
        Interlocked.Increment(ref requests);
        Interlocked.Increment(ref lost);
        endings.AddOrUpdate($"{call.Fate}/Lost", 1, (_, n) => n + 1);
        Violation($"{call}: no ending within {budget.TotalSeconds:0.0} s");
    }

    /// <param name="elapsed">From sending to the ending, on the client.</param>
    public void Record(SoakCall call, SoakOutcome outcome, TimeSpan elapsed)
    {
        Interlocked.Increment(ref requests);
        endings.AddOrUpdate($"{call.Fate}/{outcome.Status}", 1, (_, n) => n + 1);
        var clean = outcome.Status switch
        {
            SoakOutcome.Ok => call.Fate is not (SoakFate.BrokenAdapter or SoakFate.InvalidParameters) && AnswerIsRight(call, outcome),
            SoakOutcome.CancelledByClient => Count(ref cancelled, call.Fate == SoakFate.Cancel),
            SoakOutcome.Disconnected => call.Fate == SoakFate.Disconnect,
            "DeadlineExceeded" => Count(ref deadline, call.Fate == SoakFate.Deadline),
            // When a deadline passes, client and server both end the call, and the server's end is an HTTP/2 RST_STREAM,
            // which cannot carry DEADLINE_EXCEEDED: if it reaches the client before the client's own timer fires, the
            // client reports the reset (UNAVAILABLE before response headers, CANCELLED after). gRPC calls deadline status
            // best effort over HTTP/2 (grpc/grpc#2685; grpc-dotnet resets on expiry since grpc/grpc-dotnet#344). So such
            // an ending counts as the deadline only on a deadline call, and only at or after its deadline.
            "Unavailable" or "Cancelled" when call.Fate == SoakFate.Deadline && elapsed >= call.Deadline => Count(ref deadline, true),
            "ResourceExhausted" => Count(ref refused, call.Fate != SoakFate.InvalidParameters),
            "NotFound" => call.Churned,
            "FailedPrecondition" => call.Fate == SoakFate.BrokenAdapter,
            "InvalidArgument" => call.Fate == SoakFate.InvalidParameters,
            _ => false,
        };
        if (!clean && outcome.Status != SoakOutcome.Ok) Violation($"{call}: ended {outcome.Status} ({outcome.Detail})");
        if (call.Kind.IsStructured()) JudgeStructured(call, outcome);
    }

    /// <summary>A structured call's output that completed must validate; one that does not counts as wrong.</summary>
    private void JudgeStructured(SoakCall call, SoakOutcome outcome)
    {
        if (outcome.Status == SoakOutcome.CancelledByClient) Interlocked.Increment(ref structuredCancelled);
        if (outcome.Structured is not { } verdict) return;
        if (!verdict.Checked)
        {
            Interlocked.Increment(ref structuredUnfinished);
            return;
        }
        if (verdict.Problem is { } problem)
        {
            Interlocked.Increment(ref wrong);
            Violation($"{call}: {problem}");
            return;
        }
        if (call.Kind is SoakCallKind.Constrained or SoakCallKind.ConstrainedStream) Interlocked.Increment(ref constrainedValid);
        else
        {
            Interlocked.Increment(ref toolRepliesValid);
            Interlocked.Add(ref toolCalls, verdict.Calls);
        }
    }

    private bool AnswerIsRight(SoakCall call, SoakOutcome outcome)
    {
        if (call.AnswerOf is null) return true;
        var expected = solo.Answer(call.Kind, call.AnswerOf, call.Prompt);
        if (expected == outcome.Answer) return true;
        Interlocked.Increment(ref wrong);
        Violation($"{call}: answer [{outcome.Answer}] differs from the solo answer of '{call.AnswerOf}' [{expected}]");
        return false;
    }

    private static bool Count(ref long counter, bool clean)
    {
        if (clean) Interlocked.Increment(ref counter);
        return clean;
    }
}
