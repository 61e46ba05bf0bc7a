
namespace InferServer.AdapterStore.Configuration;

/// <summary>
/// Resolves adapter directories to their real location and keeps them inside allowed roots. <c>Path.GetFullPath</c>
/// alone removes <c>..</c> textually and follows no symlinks, so <c>root/link -&gt; /etc</c> would pass a prefix check, and
/// <c>root/link/../x</c> would look like <c>root/x</c> while the kernel opens <c>/etc/../x</c>. Every component is therefore
/// resolved in order, links first and <c>..</c> after (like POSIX <c>realpath</c>), before comparing.
/// </summary>
public static class AdapterPaths
{
    /// <summary>Symlink hops allowed while resolving, as Linux's ELOOP limit.</summary>
    private const int MaxLinkHops = 40;

    private static readonly StringComparison PathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>
    /// The real path of <paramref name="directory"/>, which must be an existing directory inside one of
    /// <paramref name="allowedRoots"/> (both resolved); else <see cref="AdapterPathException"/>.
    /// </summary>
    public static string ResolveInside(string directory, IReadOnlyList<string> allowedRoots)
    {
        if (string.IsNullOrWhiteSpace(directory))
        {
            throw new AdapterPathException(directory ?? "", "an adapter directory is required");
        }

        string real;
        try
        {
            real = RealPath(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new AdapterPathException(directory, $"it cannot be resolved ({e.Message})");
        }

        if (!allowedRoots.Select(RealPathOrNull).OfType<string>().Any(root => IsInside(real, root)))
        {
            throw new AdapterPathException(directory,
                allowedRoots.Count == 0 ? "no adapter load roots are configured" : $"it resolves to '{real}', outside the allowed adapter roots");
        }

        if (!Directory.Exists(real))
        {
            throw new AdapterPathException(directory, "it is not a directory");
        }

        return real;
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="root"/> or below it (both already real paths).</summary>
    public static bool IsInside(string path, string root)
    {
        var trimmedRoot = Path.TrimEndingDirectorySeparator(root);
        return path.Equals(trimmedRoot, PathComparison)
            || path.StartsWith(trimmedRoot + Path.DirectorySeparatorChar, PathComparison)
            || (trimmedRoot.Length > 0 && trimmedRoot[^1] == Path.DirectorySeparatorChar && path.StartsWith(trimmedRoot, PathComparison));
    }

    /// <summary>
    /// The absolute path with every symlink component replaced by its target, "." and ".." applied after resolving
    /// (as the kernel does). Components that do not exist are kept as they are.
    /// </summary>
    public static string RealPath(string path)
    {
        var hops = 0;
        // Path.Combine makes the path absolute without normalising "..", which must wait until links are resolved.
        return Resolve(Path.Combine(Environment.CurrentDirectory, path), ref hops);
    }

    private static string? RealPathOrNull(string root)
    {
        try
        {
            return string.IsNullOrWhiteSpace(root) ? null : RealPath(root);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private static string Resolve(string absolutePath, ref int hops)
    {
        var root = Path.GetPathRoot(absolutePath)!;
        var current = root;
        var separators = new[] { Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar };
        foreach (var part in absolutePath[root.Length..].Split(separators, StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? root;
                continue;
            }

            var next = Path.Combine(current, part);
            var info = new FileInfo(next);
            if (info.Exists || Directory.Exists(next))
            {
                FileSystemInfo entry = info.Exists ? info : new DirectoryInfo(next);
                if (entry.LinkTarget is { } target)
                {
                    if (++hops > MaxLinkHops)
                    {
                        throw new IOException($"too many levels of symbolic links at '{next}'");
                    }

                    // A relative target is relative to the link's own directory; its components may be links again.
                    next = Resolve(Path.IsPathRooted(target) ? target : Path.Combine(current, target), ref hops);
                }
            }

            current = next;
        }

        return current;
    }
}
