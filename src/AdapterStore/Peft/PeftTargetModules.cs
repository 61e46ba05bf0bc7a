using System.Text.Json.Serialization;

namespace InferServer.AdapterStore.Peft;

/// <summary>
/// PEFT's <c>target_modules</c>: either a list of names, each matching a module whose path equals it or ends with
/// <c>.{name}</c>, or one string that must match the whole module path as a regular expression (<c>re.fullmatch</c>).
/// The string <c>all-linear</c> is PEFT's shorthand for every linear layer except the output head.
/// (peft/tuners/tuners_utils.py, <c>check_target_module_exists</c>.)
/// </summary>
[JsonConverter(typeof(PeftTargetModulesConverter))]
public sealed record PeftTargetModules(IReadOnlyList<string>? Names, string? Pattern)
{
    public const string AllLinear = "all-linear";

    /// <summary>PEFT compares the shorthand case-insensitively (<c>target_modules.lower() == "all-linear"</c>).</summary>
    public bool IsAllLinear => Pattern is not null && string.Equals(Pattern, AllLinear, StringComparison.OrdinalIgnoreCase);

    public override string ToString() => Names is not null ? $"[{string.Join(", ", Names)}]" : $"'{Pattern}'";
}
