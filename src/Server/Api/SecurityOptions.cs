namespace InferServer.Server.Api;

/// <summary>
/// API keys, bound from the "Security" section. Clients send a key as metadata <c>authorization: Bearer &lt;key&gt;</c>
/// or <c>x-api-key: &lt;key&gt;</c>. Keys belong in environment variables or a secret store
/// (Security__AdminApiKeys__0=...), not in appsettings.json.
/// </summary>
public sealed record SecurityOptions
{
    /// <summary>Keys accepted by the Admin service (and by Inference). Without any, Admin refuses every call.</summary>
    public string[] AdminApiKeys { get; init; } = [];

    /// <summary>Keys accepted by the Inference service; empty = inference needs no key.</summary>
    public string[] InferenceApiKeys { get; init; } = [];

    /// <summary>Serve Admin without a key: only for a trusted, local deployment, and must be set explicitly.</summary>
    public bool AllowUnauthenticatedAdmin { get; init; }
}
