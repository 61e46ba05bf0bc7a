using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using NetArchTest.Rules;

namespace InferServer.Server.Tests.Architecture;

/// <summary>
/// The dependency rules of docs/architecture.md, checked three ways so that a forbidden dependency fails here however it
/// enters: a ProjectReference in a project file, a <c>using</c> (or global Using) of another project's namespace in its
/// sources, or a reference the compiled assembly actually carries.
/// </summary>
public sealed partial class DependencyRulesTests
{
    /// <summary>Each project under src/ and the InferServer projects it may depend on. Everything else is forbidden.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Kernels"] = [],
        ["Safetensors"] = [],
        ["Jinja"] = [],
        ["AdapterStore"] = ["Kernels", "Safetensors"],
        ["Server"] = ["Kernels", "Safetensors", "Jinja", "AdapterStore"],
    };

    /// <summary>Assembly name of each project (the server is an executable named inferserver).</summary>
    private static readonly Dictionary<string, string> AssemblyNames = new()
    {
        ["Kernels"] = "InferServer.Kernels",
        ["Safetensors"] = "InferServer.Safetensors",
        ["Jinja"] = "InferServer.Jinja",
        ["AdapterStore"] = "InferServer.AdapterStore",
        ["Server"] = "inferserver",
    };

    public static TheoryData<string> Projects => [.. Allowed.Keys];

    [Fact]
    public void EveryProjectUnderSrc_HasItsRules()
    {
        var projects = Directory.GetDirectories(RepositoryFiles.Path("src")).Select(Path.GetFileName).Order();
        Assert.Equal(Allowed.Keys.Order(), projects);
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void ProjectReferences_OnlyNameAllowedProjects(string project)
    {
        var file = XDocument.Load(RepositoryFiles.Path("src", project, $"InferServer.{project}.csproj"));
        var referenced = file.Descendants("ProjectReference")
            .Select(reference => Path.GetFileName(Path.GetDirectoryName(reference.Attribute("Include")!.Value.Replace('\\', '/')))!);
        Assert.Empty(Forbidden(project, referenced));
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void UsingLines_OnlyNameAllowedProjects(string project)
    {
        var directory = RepositoryFiles.Path("src", project);
        var offending = new List<string>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(directory, file);
            if (relative.StartsWith("bin" + Path.DirectorySeparatorChar) || relative.StartsWith("obj" + Path.DirectorySeparatorChar))
                continue;
            foreach (var line in File.ReadLines(file))
            {
                var match = UsingLine().Match(line);
                if (match.Success && Forbidden(project, [match.Groups["project"].Value]).Any())
                    offending.Add($"src/{project}/{relative}: {line.Trim()}");
            }
        }
        var globalUsings = XDocument.Load(RepositoryFiles.Path("src", project, $"InferServer.{project}.csproj")).Descendants("Using")
            .Select(item => item.Attribute("Include")!.Value)
            .Where(name => name.StartsWith("InferServer.") && Forbidden(project, [name.Split('.')[1]]).Any());
        offending.AddRange(globalUsings.Select(name => $"src/{project}: <Using Include=\"{name}\" />"));
        Assert.Empty(offending);
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void CompiledAssembly_OnlyReferencesAllowedProjects(string project)
    {
        var byAssembly = AssemblyNames.ToDictionary(pair => pair.Value, pair => pair.Key);
        var referenced = Assembly.Load(AssemblyNames[project]).GetReferencedAssemblies()
            .Select(name => byAssembly.GetValueOrDefault(name.Name!))
            .OfType<string>();
        Assert.Empty(Forbidden(project, referenced));
    }

    /// <summary>
    /// Each top-level folder of src/Server and the folders it may use (docs/architecture.md, "Inside the server"): the
    /// model code and tokenizers at the bottom, the engine over them, observability over the engine, the APIs over both,
    /// and Hosting, the composition root, over everything.
    /// </summary>
    private static readonly Dictionary<string, string[]> ServerFolders = new()
    {
        ["Models"] = [],
        ["Tokenization"] = [],
        ["Import"] = [],
        ["Demo"] = ["Import", "Tokenization"],
        ["Engine"] = ["Models", "Tokenization"],
        ["Observability"] = ["Engine"],
        ["Api"] = ["Engine", "Observability"],
        ["Hosting"] = ["Api", "Demo", "Engine", "Import", "Models", "Observability", "Tokenization"],
    };

    public static TheoryData<string> ServerFolderNames => [.. ServerFolders.Keys];

    [Fact]
    public void EveryServerFolder_HasItsRules()
    {
        var folders = Directory.GetDirectories(RepositoryFiles.Path("src", "Server")).Select(Path.GetFileName)
            .Where(name => name is not ("bin" or "obj")).Order();
        Assert.Equal(ServerFolders.Keys.Order(), folders);
    }

    [Theory]
    [MemberData(nameof(ServerFolderNames))]
    public void ServerFolders_UseOnlyTheFoldersTheyMay(string folder)
    {
        var forbiddenUsed = FolderDependencies("Server", folder).Except(ServerFolders[folder]).ToList();
        Assert.Empty(forbiddenUsed);
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Folders_DependOnEachOtherOneWayOnly(string project)
    {
        // Shared contracts live at each project's root, so that no two folders need each other.
        var folders = Folders(project);
        var uses = folders.ToDictionary(folder => folder, folder => FolderDependencies(project, folder).ToHashSet());
        Assert.Empty(Cycles(uses));
    }

    /// <summary>The top-level folders of src/<paramref name="project"/> holding C# files.</summary>
    private static List<string> Folders(string project) =>
        [.. Directory.GetDirectories(RepositoryFiles.Path("src", project))
            .Where(directory => Path.GetFileName(directory) is not ("bin" or "obj")
                && Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories).Any())
            .Select(directory => Path.GetFileName(directory)!)];

    /// <summary>
    /// The other folders of <paramref name="project"/> that the compiled types of <paramref name="folder"/> (its namespace
    /// and those below it) use anywhere: signatures, base types, attributes, method bodies. Read from the assembly, so
    /// a fully qualified name or a parent-namespace lookup counts as much as a using line.
    /// </summary>
    private static IEnumerable<string> FolderDependencies(string project, string folder)
    {
        var root = $"InferServer.{project}";
        var types = Types.InAssembly(Assembly.Load(AssemblyNames[project]));
        foreach (var other in Folders(project).Where(other => other != folder))
        {
            var result = types.That().ResideInNamespaceMatching($@"^{Regex.Escape($"{root}.{folder}")}(\.|$)")
                .ShouldNot().HaveDependencyOnAny($"{root}.{other}")
                .GetResult();
            if (!result.IsSuccessful)
                yield return other;
        }
    }

    /// <summary>Every folder that can reach itself through the dependency graph, with the path that shows it.</summary>
    private static List<string> Cycles(Dictionary<string, HashSet<string>> uses)
    {
        var cycles = new List<string>();
        foreach (var start in uses.Keys)
        {
            var paths = new Queue<List<string>>([[start]]);
            var seen = new HashSet<string>();
            while (paths.Count > 0)
            {
                var path = paths.Dequeue();
                foreach (var next in uses.GetValueOrDefault(path[^1]) ?? [])
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

    private static IEnumerable<string> Forbidden(string project, IEnumerable<string> used) =>
        used.Where(name => Allowed.ContainsKey(name) && name != project && !Allowed[project].Contains(name)).Distinct();

    /// <summary><c>using InferServer.X…;</c>, also <c>global</c>, <c>static</c>, aliased and extern-aliased forms.</summary>
    [GeneratedRegex(@"^\s*(global\s+)?using\s+(static\s+)?(\w+\s*=\s*)?(\w+::)?InferServer\.(?<project>\w+)")]
    private static partial Regex UsingLine();
}
