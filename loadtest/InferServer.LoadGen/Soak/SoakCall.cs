namespace InferServer.LoadGen.Soak;

/// <summary>One planned call: everything about it is drawn from the seed before it is sent.</summary>
/// <param name="Id">Position in the plan (the n-th call drawn from the seed), printed with every violation.</param>
/// <param name="Adapter">The adapter named in the request; "" is the base model.</param>
/// <param name="AnswerOf">The adapter whose solo answer this call's answer must equal (a copy answers as its source); null: not checked.</param>
/// <param name="Churned">The adapter is unloaded and loaded while in use, so NOT_FOUND is a clean ending.</param>
/// <param name="CutAfterFrames">Cancel or disconnect after this many frames (streams only).</param>
/// <param name="Deadline">The gRPC deadline for <see cref="SoakFate.Deadline"/> calls.</param>
/// <param name="InvalidForm">Which parameter is out of range for <see cref="SoakFate.InvalidParameters"/> calls.</param>
/// <param name="Burst">Sent as part of a burst past the queue bound.</param>
public sealed record SoakCall(
    long Id,
    SoakCallKind Kind,
    SoakFate Fate,
    string Adapter,
    string? AnswerOf,
    bool Churned,
    int Prompt,
    int MaxNewTokens,
    int CutAfterFrames,
    TimeSpan Deadline,
    int InvalidForm,
    bool Burst)
{
    public override string ToString() =>
        $"call {Id} {Kind} {Fate}{(Burst ? " burst" : "")} adapter '{Adapter}' prompt {Prompt} tokens {MaxNewTokens}" +
        (Fate is SoakFate.Cancel or SoakFate.Disconnect ? $" cut after {CutAfterFrames} frames" : "") +
        (Fate == SoakFate.Deadline ? $" deadline {Deadline.TotalMilliseconds:0} ms" : "") +
        (Fate == SoakFate.InvalidParameters ? $" invalid form {InvalidForm}" : "");
}
