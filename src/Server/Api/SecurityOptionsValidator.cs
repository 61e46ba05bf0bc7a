using Microsoft.Extensions.Options;

namespace InferServer.Server.Api;

/// <summary>Every problem with <see cref="SecurityOptions"/> at start.</summary>
public sealed class SecurityOptionsValidator : IValidateOptions<SecurityOptions>
{
    /// <summary>Shortest key accepted: a guessable key is worse than none, since it looks like protection.</summary>
    public const int MinimumKeyLength = 16;

    public ValidateOptionsResult Validate(string? name, SecurityOptions options)
    {
        var problems = new List<string>();
        Check(options.AdminApiKeys, "Security:AdminApiKeys", problems);
        Check(options.InferenceApiKeys, "Security:InferenceApiKeys", problems);
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    private static void Check(string[] keys, string key, List<string> problems)
    {
        for (var i = 0; i < keys.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(keys[i]) || keys[i].Length < MinimumKeyLength || keys[i].Any(char.IsWhiteSpace))
            {
                problems.Add($"{key}:{i} must be at least {MinimumKeyLength} characters without whitespace");
            }
        }
    }
}
