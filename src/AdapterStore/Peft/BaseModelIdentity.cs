using InferServer.AdapterStore.Configuration;

namespace InferServer.AdapterStore.Peft;

/// <summary>
/// The served base's name as adapters record it (PEFT writes <c>base_model_name_or_path</c>: the hub id or the local path the
/// base was loaded from), and the policy for an adapter that names another. <paramref name="Warn"/> receives the warning.
/// </summary>
public sealed record BaseModelIdentity(string Name, BaseModelCheck Policy, Action<string>? Warn = null)
{
    /// <summary>
    /// The mismatch, or null when the adapter names no base or the same one. A hub id and a local copy of it match when their
    /// last path components are equal, case-insensitively (<c>meta-llama/Llama-3.2-1B</c> and <c>/models/Llama-3.2-1B</c>),
    /// because PEFT records whichever the user loaded from.
    /// </summary>
    public string? Mismatch(string? adapterBase)
    {
        if (string.IsNullOrWhiteSpace(adapterBase) || string.IsNullOrWhiteSpace(Name) || LastComponent(adapterBase).Equals(LastComponent(Name), StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return $"base_model_name_or_path '{adapterBase}' is not the served base model '{Name}'";
    }

    private static string LastComponent(string name)
    {
        var trimmed = name.Trim().TrimEnd('/', '\\');
        var slash = trimmed.LastIndexOfAny(['/', '\\']);
        return slash < 0 ? trimmed : trimmed[(slash + 1)..];
    }
}
