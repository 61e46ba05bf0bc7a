using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;

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

    /// <summary>The projects whose folders depend on each other one way only (Server's Demo/Import and Hosting/Observability
    /// still form cycles; see docs/architecture.md).</summary>
    public static TheoryData<string> ProjectsWithoutFolderCycles => ["Kernels", "Safetensors", "Jinja", "AdapterStore"];

    [Theory]
    [MemberData(nameof(ProjectsWithoutFolderCycles))]
    public void Folders_DependOnEachOtherOneWayOnly(string project)
    {
        // folder -> the folders of the same project its using lines name; shared contracts live at the project root.
        var directory = RepositoryFiles.Path("src", project);
        var uses = new Dictionary<string, HashSet<string>>();
        foreach (var folder in Directory.GetDirectories(directory).Select(Path.GetFileName).Where(name => name is not ("bin" or "obj")))
        {
            uses[folder!] = [.. Directory.EnumerateFiles(Path.Combine(directory, folder!), "*.cs", SearchOption.AllDirectories)
                .SelectMany(File.ReadLines)
                .Select(line => Regex.Match(line, $@"^\s*using\s+InferServer\.{project}\.(?<folder>\w+)"))
                .Where(match => match.Success && match.Groups["folder"].Value != folder)
                .Select(match => match.Groups["folder"].Value)];
        }

        Assert.Empty(Cycles(uses));
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
