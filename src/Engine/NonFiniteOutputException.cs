namespace InferServer.Engine;

/// <summary>
/// The model's output for a request is not a finite number (an adapter whose weights hold NaN, or values that overflow):
/// there is nothing correct to answer, so the request fails (FAILED_PRECONDITION) rather than sending NaN, which JSON
/// cannot carry. Other requests, batched with it, are not affected.
/// </summary>
public sealed class NonFiniteOutputException(string? adapter)
    : Exception(adapter is null
        ? "the model's output for this input is not a finite number"
        : $"adapter '{adapter}' gives an output that is not a finite number for this input (its weights hold NaN or overflow)");
