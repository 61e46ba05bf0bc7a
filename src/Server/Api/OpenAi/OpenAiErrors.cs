using Grpc.Core;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// <see cref="ApiError"/>s as HTTP statuses and OpenAI error bodies <c>{"error":{"message","type","param","code"}}</c>.
/// The status table follows Google's canonical-code-to-HTTP mapping (AIP-193), with OpenAI's error types.
/// </summary>
public static class OpenAiErrors
{
    /// <summary>The HTTP status of <paramref name="code"/>.</summary>
    public static int HttpStatus(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.AlreadyExists or StatusCode.Aborted => StatusCodes.Status409Conflict,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Cancelled => StatusCodes.Status499ClientClosedRequest,
        StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>The OpenAI error body of <paramref name="error"/>, its field renamed by <paramref name="paramName"/>.</summary>
    public static OpenAiErrorBody Body(ApiError error, Func<string, string> paramName)
    {
        var param = error.Violations.Count > 0 ? paramName(error.Violations[0].Field) : null;
        var message = error.Violations.Count > 0
            ? string.Join("; ", error.Violations.Select(violation => $"{paramName(violation.Field)}: {violation.Problem}"))
            : error.Problems is { Count: > 0 } problems ? $"{error.Message}: {string.Join("; ", problems)}" : error.Message;
        var (type, code) = error.Code switch
        {
            StatusCode.NotFound when param == "model" => ("invalid_request_error", "model_not_found"),
            StatusCode.NotFound => ("invalid_request_error", "not_found"),
            StatusCode.InvalidArgument when error.Violations.Count > 0 && error.Violations[0].Problem == UnsupportedProblem =>
                ("invalid_request_error", "unsupported_parameter"),
            StatusCode.InvalidArgument => ("invalid_request_error", "invalid_value"),
            StatusCode.FailedPrecondition => ("invalid_request_error", "failed_precondition"),
            StatusCode.Unauthenticated => ("authentication_error", "invalid_api_key"),
            StatusCode.PermissionDenied => ("permission_error", "permission_denied"),
            StatusCode.AlreadyExists => ("invalid_request_error", "conflict"),
            StatusCode.ResourceExhausted => ("rate_limit_error", "queue_full"),
            StatusCode.DeadlineExceeded => ("timeout_error", "deadline_exceeded"),
            StatusCode.Unavailable => ("service_unavailable_error", "shutting_down"),
            StatusCode.Cancelled => ("invalid_request_error", "cancelled"),
            _ => ("server_error", "internal_error"),
        };
        return new OpenAiErrorBody(new OpenAiErrorDetail(message, type, param, code));
    }

    /// <summary>The problem text of a field outside an endpoint's allow-list (see JsonFields).</summary>
    public const string UnsupportedProblem = "is not supported by this server";
}
