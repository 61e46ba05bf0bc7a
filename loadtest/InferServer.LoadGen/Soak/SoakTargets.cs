namespace InferServer.LoadGen.Soak;

/// <summary>Where the server under soak listens, and the keys its APIs want.</summary>
/// <param name="Grpc">gRPC (inference, admin, grpc.health.v1).</param>
/// <param name="OpenAi">OpenAI-compatible HTTP API (the driver appends /v1/...).</param>
/// <param name="Metrics">The metrics port (/metrics): the resource gauges are read from there, as an operator would.</param>
/// <param name="AdminKey">Sent as a bearer token on admin calls.</param>
/// <param name="ApiKey">Sent on inference calls when the server requires one.</param>
public sealed record SoakTargets(Uri Grpc, Uri OpenAi, Uri Metrics, string AdminKey, string? ApiKey = null);
