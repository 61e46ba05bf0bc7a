using Microsoft.Extensions.Options;

namespace InferServer.Server.Api.OpenAi;

/// <summary>The OpenAI-compatible API's keys of <see cref="ApiOptions"/> (the rest is <see cref="ApiOptionsValidator"/>'s).</summary>
public sealed class OpenAiOptionsValidator : IValidateOptions<ApiOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiOptions options)
    {
        var problems = new List<string>();
        if (options.OpenAiPort is < -1 or > 65535)
        {
            problems.Add($"Api:OpenAiPort must be in -1..65535 (0 = any free port, -1 = none), got {options.OpenAiPort}");
        }

        if (options.OpenAiPort > 0 && (options.OpenAiPort == options.GrpcPort || options.OpenAiPort == options.HttpPort))
        {
            problems.Add("Api:OpenAiPort must differ from Api:GrpcPort and Api:HttpPort");
        }

        if (options.OpenAiMaxChoices < 1)
        {
            problems.Add("Api:OpenAiMaxChoices must be at least 1");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
