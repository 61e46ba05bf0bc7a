using InferServer.Engine;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Hosting;

/// <summary>Runs <see cref="EngineOptions.Validate"/> at start, so the host refuses to start with every problem listed.</summary>
public sealed class EngineOptionsValidator : IValidateOptions<EngineOptions>
{
    public ValidateOptionsResult Validate(string? name, EngineOptions options) =>
        options.Validate() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
