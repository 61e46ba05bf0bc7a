namespace InferServer.Engine;

/// <summary>The call does not fit the served model, e.g. Classify on a causal LM (gRPC FAILED_PRECONDITION/UNIMPLEMENTED, HTTP 400).</summary>
public sealed class ModelCapabilityException(string message) : Exception(message);
