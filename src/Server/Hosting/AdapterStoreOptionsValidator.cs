using InferServer.AdapterStore.Configuration;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Hosting;

/// <summary>Runs <see cref="AdapterStoreOptions.Validate"/> at start, so the host refuses to start with every problem listed.</summary>
public sealed class AdapterStoreOptionsValidator : IValidateOptions<AdapterStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, AdapterStoreOptions options) =>
        options.Validate() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
