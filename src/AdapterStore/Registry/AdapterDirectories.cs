using InferServer.AdapterStore.Configuration;

namespace InferServer.AdapterStore.Registry;

/// <summary>
/// Where adapters may be found and read from: <see cref="AdapterStoreOptions.AdapterRoots"/>, whose subdirectories are
/// discovered by name on first use, and <see cref="AdapterStoreOptions.EffectiveAllowedLoadRoots"/>, from which an admin may
/// load explicitly. Every path is resolved, links included, and refused outside its roots (<see cref="AdapterPaths"/>).
/// </summary>
internal sealed class AdapterDirectories(AdapterStoreOptions options)
{
    /// <summary>Every root an adapter may be read from: the discovery roots and the admin load roots.</summary>
    public IReadOnlyList<string> ConfinementRoots => [.. options.AdapterRoots.Union(options.EffectiveAllowedLoadRoots)];

    /// <summary>The real path of <c>root/N</c> under the first adapter root that has it; one that links outside its root is refused.</summary>
    public string? Find(string name)
    {
        foreach (var root in options.AdapterRoots)
        {
            var candidate = Path.Combine(root, name);
            if (Directory.Exists(candidate))
            {
                return AdapterPaths.ResolveInside(candidate, [root]);
            }
        }

        return null;
    }

    /// <summary>The real path of an admin load's <paramref name="directory"/>, refused outside the allowed load roots.</summary>
    public string ResolveForLoad(string directory) => AdapterPaths.ResolveInside(directory, options.EffectiveAllowedLoadRoots);

    /// <summary>
    /// Checks <paramref name="directory"/> again just before a read: it may have been swapped for a link since it was
    /// registered, or since an evicted copy was last read.
    /// </summary>
    public string ResolveForRead(string directory) => AdapterPaths.ResolveInside(directory, ConfinementRoots);

    /// <summary>The adapter roots' subdirectories with valid adapter names, by name, as they are on disk now (no links resolved).</summary>
    public IEnumerable<(string Name, string Directory)> Discoverable() =>
        from root in options.AdapterRoots.Where(Directory.Exists)
        from directory in Directory.EnumerateDirectories(root)
        let name = Path.GetFileName(directory)
        where AdapterNames.Check(name) is null
        select (name, directory);
}
