namespace InferServer.LoadGen.Soak;

/// <summary>What the driver does to a call, and so which endings are clean for it.</summary>
public enum SoakFate
{
    /// <summary>Read to the end; the answer must equal the solo answer.</summary>
    Complete,

    /// <summary>A stream cancelled by the client after a random number of frames.</summary>
    Cancel,

    /// <summary>A long generation with a deadline calibrated to expire in its middle (gRPC only).</summary>
    Deadline,

    /// <summary>The connection dropped mid-stream without a cancel: the client's channel or HttpClient is disposed.</summary>
    Disconnect,

    /// <summary>An adapter that cannot be served: FAILED_PRECONDITION.</summary>
    BrokenAdapter,

    /// <summary>Parameters out of range: INVALID_ARGUMENT.</summary>
    InvalidParameters,
}
