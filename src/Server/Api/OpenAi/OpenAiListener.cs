using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// The Kestrel endpoint of the OpenAI-compatible API, known after start (port 0 binds any free port and Kestrel writes
/// the bound port back). Null when Api:OpenAiPort is -1 or Kestrel:Endpoints configures the endpoints, in which case the
/// API answers on every endpoint.
/// </summary>
public sealed class OpenAiListener
{
    internal ListenOptions? Listen { get; set; }

    /// <summary>The API's base address, e.g. http://127.0.0.1:8000 (clients append /v1).</summary>
    public Uri? Address => Listen is { IPEndPoint: { } endPoint } ? new Uri($"http://{endPoint}") : null;
}
