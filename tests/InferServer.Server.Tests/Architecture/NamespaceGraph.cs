using System.Reflection;
using NetArchTest.Rules;

namespace InferServer.Server.Tests.Architecture;

/// <summary>
/// Which namespaces of one assembly use which, below a root: every namespace that holds a type is a node (the root, each
/// folder, each subfolder), and A uses B when a type declared directly in A depends on a type declared directly in B —
/// anywhere, signatures, base types, attributes or method bodies, read from the compiled IL (NetArchTest), so a fully
/// qualified name or a lookup through a parent namespace counts as much as a using line.
/// </summary>
public sealed class NamespaceGraph
{
    private NamespaceGraph(Dictionary<string, HashSet<string>> uses) => Uses = uses;

    /// <summary>Each namespace and the other namespaces it uses.</summary>
    public IReadOnlyDictionary<string, HashSet<string>> Uses { get; }

    public static NamespaceGraph Of(Assembly assembly, string root)
    {
        var declared = assembly.GetTypes()
            .Where(type => !type.IsNested && type.Namespace is { } name && (name == root || name.StartsWith(root + ".")))
            .GroupBy(type => type.Namespace!)
            .ToDictionary(group => group.Key, group => group.Select(type => type.FullName!).ToArray());
        var types = Types.InAssembly(assembly);
        var uses = new Dictionary<string, HashSet<string>>();
        foreach (var user in declared.Keys)
        {
            uses[user] = [];
            foreach (var (used, usedTypes) in declared.Where(pair => pair.Key != user))
            {
                var result = types.That().ResideInNamespaceMatching($"^{System.Text.RegularExpressions.Regex.Escape(user)}$")
                    .ShouldNot().HaveDependencyOnAny(usedTypes)
                    .GetResult();
                if (!result.IsSuccessful)
                    uses[user].Add(used);
            }
        }
        return new NamespaceGraph(uses);
    }

    /// <summary>Every namespace that can reach itself, with the shortest path that shows it ("A -> B -> A").</summary>
    public List<string> Cycles()
    {
        var cycles = new List<string>();
        foreach (var start in Uses.Keys.Order(StringComparer.Ordinal))
        {
            var paths = new Queue<List<string>>([[start]]);
            var seen = new HashSet<string>();
            while (paths.Count > 0)
            {
                var path = paths.Dequeue();
                foreach (var next in (Uses.GetValueOrDefault(path[^1]) ?? []).Order(StringComparer.Ordinal))
                {
                    if (next == start)
                        cycles.Add(string.Join(" -> ", path.Append(next)));
                    else if (seen.Add(next))
                        paths.Enqueue([.. path, next]);
                }
            }
        }
        return cycles;
    }
}
