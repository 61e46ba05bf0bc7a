namespace InferServer.Server.Engine;

/// <summary>The engine is shutting down and accepts no new requests (gRPC UNAVAILABLE, HTTP 503).</summary>
public sealed class EngineStoppedException() : Exception("the server is shutting down and accepts no new requests");
