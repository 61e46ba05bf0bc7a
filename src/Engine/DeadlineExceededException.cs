namespace InferServer.Engine;

/// <summary>A request's deadline passed before it finished (gRPC DEADLINE_EXCEEDED, HTTP 504).</summary>
public sealed class DeadlineExceededException(string what) : Exception($"deadline exceeded {what}");
