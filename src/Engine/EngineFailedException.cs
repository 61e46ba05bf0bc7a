namespace InferServer.Engine;

/// <summary>
/// A request ended because the engine step or admission running it failed (a libtorch error on one odd input, a slot
/// write that threw). Only the requests concerned get it (gRPC INTERNAL); the server log has the cause.
/// </summary>
public sealed class EngineFailedException(string message, Exception inner) : Exception(message, inner);
