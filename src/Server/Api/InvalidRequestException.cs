using System.Diagnostics.CodeAnalysis;

namespace InferServer.Server.Api;

/// <summary>
/// A request with bad fields, every one the shared validation found, in neither protocol's terms: each front door maps
/// it itself (gRPC: INVALID_ARGUMENT with a google.rpc.BadRequest; OpenAI: 400 naming the first field in its own
/// <c>param</c> spelling), so no error travels through the other door's status on its way out.
/// </summary>
public sealed class InvalidRequestException(IReadOnlyList<FieldViolation> violations)
    : Exception(string.Join("; ", violations.Select(violation => violation.Field.Length > 0 ? $"{violation.Field}: {violation.Problem}" : violation.Problem)))
{
    /// <summary>The bad fields, in the order found (the first is the one OpenAI's <c>param</c> names).</summary>
    public IReadOnlyList<FieldViolation> Violations { get; } = violations;

    /// <summary>Throws for <paramref name="violations"/> when any was collected.</summary>
    public static void ThrowIfAny(IReadOnlyList<FieldViolation> violations)
    {
        if (violations.Count > 0)
        {
            throw new InvalidRequestException(violations);
        }
    }

    /// <summary>Throws for one bad field.</summary>
    [DoesNotReturn]
    public static void Throw(string field, string problem) => throw new InvalidRequestException([new FieldViolation(field, problem)]);
}
