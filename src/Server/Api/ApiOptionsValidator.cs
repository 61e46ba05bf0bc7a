using System.Net;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Api;

/// <summary>Every problem with <see cref="ApiOptions"/> at start, each naming its key.</summary>
public sealed class ApiOptionsValidator : IValidateOptions<ApiOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiOptions options)
    {
        var problems = new List<string>();
        if (!IPAddress.TryParse(options.Host, out _) && options.Host != "localhost")
        {
            problems.Add($"Api:Host '{options.Host}' must be an IP address or localhost");
        }

        if (options.GrpcPort is < 0 or > 65535)
        {
            problems.Add($"Api:GrpcPort must be in 0..65535 (0 = any free port), got {options.GrpcPort}");
        }

        if (options.HttpPort is < -1 or > 65535)
        {
            problems.Add($"Api:HttpPort must be in -1..65535 (0 = any free port, -1 = none), got {options.HttpPort}");
        }

        if (options.GrpcPort != 0 && options.GrpcPort == options.HttpPort)
        {
            problems.Add("Api:GrpcPort and Api:HttpPort must differ");
        }

        if (options.MaxReceiveMessageBytes < 1024)
        {
            problems.Add("Api:MaxReceiveMessageBytes must be at least 1024");
        }

        if (options.MaxPromptChars < 1)
        {
            problems.Add("Api:MaxPromptChars must be at least 1");
        }

        if (options.MaxPromptTokens < 1)
        {
            problems.Add("Api:MaxPromptTokens must be at least 1");
        }

        if (options.MaxNewTokens < 1)
        {
            problems.Add("Api:MaxNewTokens must be at least 1");
        }

        if (options.DefaultMaxNewTokens < 1 || options.DefaultMaxNewTokens > options.MaxNewTokens)
        {
            problems.Add("Api:DefaultMaxNewTokens must be in 1..Api:MaxNewTokens");
        }

        if (options.MaxStopSequences < 0)
        {
            problems.Add("Api:MaxStopSequences must not be negative");
        }

        if (options.MaxClassifyTexts < 1)
        {
            problems.Add("Api:MaxClassifyTexts must be at least 1");
        }

        if (options.MaxFanOutAdapters < 1)
        {
            problems.Add("Api:MaxFanOutAdapters must be at least 1");
        }

        if (options.MaxChatMessages < 1)
        {
            problems.Add("Api:MaxChatMessages must be at least 1");
        }

        if (options.MaxTools < 1)
        {
            problems.Add("Api:MaxTools must be at least 1");
        }

        if (options.DrainTimeout < TimeSpan.Zero)
        {
            problems.Add("Api:DrainTimeout must not be negative");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
