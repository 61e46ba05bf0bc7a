using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Api;

/// <summary>Which key rule a call falls under.</summary>
public enum ApiKeyScope
{
    /// <summary>Generation and classification: an inference or admin key when any inference key is configured.</summary>
    Inference,
    /// <summary>Adapter lifecycle: an admin key, unless Security:AllowUnauthenticatedAdmin.</summary>
    Admin,
}

/// <summary>
/// The API-key rule of both front doors (gRPC metadata and HTTP headers alike): <c>authorization: Bearer &lt;key&gt;</c>
/// or <c>x-api-key: &lt;key&gt;</c>. Keys are compared as SHA-256 digests in constant time.
/// </summary>
public sealed class ApiKeys
{
    private readonly bool allowUnauthenticatedAdmin;
    private readonly byte[][] adminKeys;
    private readonly byte[][] inferenceKeys;

    public ApiKeys(IOptions<SecurityOptions> options)
    {
        allowUnauthenticatedAdmin = options.Value.AllowUnauthenticatedAdmin;
        adminKeys = [.. options.Value.AdminApiKeys.Select(Digest)];
        inferenceKeys = [.. options.Value.InferenceApiKeys.Select(Digest)];
    }

    /// <summary>Throws <see cref="ApiKeyRejectedException"/> unless the presented key may call <paramref name="scope"/>.</summary>
    /// <param name="scope">The API called.</param>
    /// <param name="what">The API's name in messages ("the Admin service").</param>
    /// <param name="authorization">The authorization header, if any.</param>
    /// <param name="apiKey">The x-api-key header, if any.</param>
    public void Authorize(ApiKeyScope scope, string what, string? authorization, string? apiKey)
    {
        if (scope == ApiKeyScope.Admin)
        {
            if (allowUnauthenticatedAdmin)
            {
                return;
            }

            var key = PresentedKey(authorization, apiKey)
                ?? throw new ApiKeyRejectedException($"{what} needs an API key (authorization: Bearer <key> or x-api-key)", keyRecognised: false);
            if (Matches(key, adminKeys))
            {
                return;
            }

            if (Matches(key, inferenceKeys))
            {
                throw new ApiKeyRejectedException($"this API key may not call {what}", keyRecognised: true);
            }

            throw new ApiKeyRejectedException("API key not recognised", keyRecognised: false);
        }
        if (inferenceKeys.Length == 0)
        {
            return;
        }

        var presented = PresentedKey(authorization, apiKey)
            ?? throw new ApiKeyRejectedException($"{what} needs an API key (authorization: Bearer <key> or x-api-key)", keyRecognised: false);
        if (!Matches(presented, inferenceKeys) && !Matches(presented, adminKeys))
        {
            throw new ApiKeyRejectedException("API key not recognised", keyRecognised: false);
        }
    }

    private static byte[]? PresentedKey(string? authorization, string? apiKey)
    {
        if (apiKey is { Length: > 0 })
        {
            return Digest(apiKey);
        }

        const string bearer = "Bearer ";
        if (authorization is not null
            && authorization.StartsWith(bearer, StringComparison.OrdinalIgnoreCase)
            && authorization.Length > bearer.Length)
        {
            return Digest(authorization[bearer.Length..].Trim());
        }

        return null;
    }

    private static bool Matches(byte[] presented, byte[][] keys)
    {
        var match = false;
        foreach (var key in keys)
        {
            match |= CryptographicOperations.FixedTimeEquals(presented, key);
        }

        return match;
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
