namespace InferServer.Server.Api;

/// <summary>
/// The client went away (reset or aborted its connection) before its request could be read: a cancellation by the
/// client, answered with nothing and counted as CANCELLED, never as an internal error.
/// </summary>
public sealed class ClientGoneException(Exception cause)
    : OperationCanceledException("the client went away while sending its request", cause);
