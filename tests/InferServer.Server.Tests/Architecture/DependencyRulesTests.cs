using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace InferServer.Server.Tests.Architecture;

/// <summary>
/// The dependency rules of docs/architecture.md. Between projects they are checked three ways, so that a forbidden
/// dependency fails here however it enters: a ProjectReference in a project file, a <c>using</c> (or global Using) of
/// another project's namespace in its sources, or a reference the compiled assembly actually carries. Inside every
/// project, every namespace (the root, each folder and subfolder) is a node of one graph that must have no cycle.
/// </summary>
public sealed partial class DependencyRulesTests
{
    /// <summary>Every InferServer project outside tests/ and the projects it may depend on. Everything else is forbidden.</summary>
    private static readonly ProjectRule[] Rules =
    [
        new("Kernels", "src/Kernels", "InferServer.Kernels", "InferServer.Kernels", []),
        new("Safetensors", "src/Safetensors", "InferServer.Safetensors", "InferServer.Safetensors", []),
        new("Jinja", "src/Jinja", "InferServer.Jinja", "InferServer.Jinja", []),
        new("Protos", "src/Protos", "InferServer.Protos", "InferServer.Api.V1", []),
        new("AdapterStore", "src/AdapterStore", "InferServer.AdapterStore", "InferServer.AdapterStore", ["Kernels", "Safetensors"]),
        new("Engine", "src/Engine", "InferServer.Engine", "InferServer.Engine", ["Kernels", "Safetensors", "AdapterStore"]),
        new("Demo", "src/Demo", "InferServer.Demo", "InferServer.Demo", ["Kernels", "Safetensors", "AdapterStore", "Engine"]),
        new("Server", "src/Server", "inferserver", "InferServer.Server",
            ["Kernels", "Jinja", "Protos", "AdapterStore", "Engine", "Demo"]),
        new("Benchmarks", "benchmarks/InferServer.Benchmarks", "InferServer.Benchmarks", "InferServer.Benchmarks",
            ["Kernels", "Safetensors", "Jinja", "Protos", "AdapterStore", "Engine", "Demo", "Server"]),
        // A client like any other: the contract, plus the engine in-process for the server-overhead row and the soak's
        // broken adapter files. Never the server.
        new("LoadGen", "loadtest/InferServer.LoadGen", "inferserver-loadgen", "InferServer.LoadGen",
            ["Kernels", "Safetensors", "Protos", "AdapterStore", "Engine", "Demo"]),
        // Uses the engine as a library: the engine and the option and request types its surface is made of.
        new("OfflineBatchSample", "samples/OfflineBatch", "offline-batch", "InferServer.Samples.OfflineBatch",
            ["Kernels", "AdapterStore", "Engine"]),
    ];

    private static ProjectRule Rule(string project) => Rules.Single(rule => rule.Name == project);

    public static TheoryData<string> Projects => [.. Rules.Select(rule => rule.Name)];

    [Fact]
    public void EveryProjectUnderSrc_HasItsRules()
    {
        var projects = Directory.GetDirectories(RepositoryFiles.Path("src")).Select(directory => "src/" + Path.GetFileName(directory));
        Assert.Equal(projects.Order(), Rules.Select(rule => rule.Directory).Where(directory => directory.StartsWith("src/")).Order());
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void ProjectReferences_OnlyNameAllowedProjects(string project)
    {
        var referenced = ProjectFile(project).Descendants("ProjectReference")
            .Select(reference => Path.GetFileNameWithoutExtension(reference.Attribute("Include")!.Value.Replace('\\', '/')))
            .Select(file => Rules.SingleOrDefault(rule => Path.GetFileName(ProjectFilePath(rule)) == file + ".csproj")?.Name)
            .OfType<string>();
        Assert.Empty(Forbidden(project, referenced));
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void UsingLines_OnlyNameAllowedProjects(string project)
    {
        var directory = RepositoryFiles.Path(Rule(project).Directory.Split('/'));
        var offending = new List<string>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(directory, file);
            if (relative.StartsWith("bin" + Path.DirectorySeparatorChar) || relative.StartsWith("obj" + Path.DirectorySeparatorChar))
                continue;
            foreach (var line in File.ReadLines(file))
            {
                var match = UsingLine().Match(line);
                if (match.Success && Forbidden(project, [ProjectOfNamespace(match.Groups["namespace"].Value)]).Any())
                    offending.Add($"{Rule(project).Directory}/{relative}: {line.Trim()}");
            }
        }
        var globalUsings = ProjectFile(project).Descendants("Using")
            .Select(item => item.Attribute("Include")!.Value)
            .Where(name => Forbidden(project, [ProjectOfNamespace(name)]).Any());
        offending.AddRange(globalUsings.Select(name => $"{Rule(project).Directory}: <Using Include=\"{name}\" />"));
        Assert.Empty(offending);
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void CompiledAssembly_OnlyReferencesAllowedProjects(string project)
    {
        var referenced = Assembly.Load(Rule(project).AssemblyName).GetReferencedAssemblies()
            .Select(name => Rules.SingleOrDefault(rule => rule.AssemblyName == name.Name)?.Name)
            .OfType<string>();
        Assert.Empty(Forbidden(project, referenced));
    }

    /// <summary>
    /// Each folder of the server host and the folders it may use (docs/architecture.md): observability at the bottom,
    /// the front doors over it, and Hosting, the composition root, over both.
    /// </summary>
    private static readonly Dictionary<string, string[]> ServerFolders = new()
    {
        ["Observability"] = [],
        ["Api"] = ["Observability"],
        ["Hosting"] = ["Api", "Observability"],
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
        var graph = NamespaceGraph.Of(Assembly.Load(Rule("Server").AssemblyName), Rule("Server").RootNamespace);
        const string root = "InferServer.Server.";
        var used = graph.Uses.Where(pair => pair.Key == root + folder || pair.Key.StartsWith(root + folder + "."))
            .SelectMany(pair => pair.Value)
            .Where(target => target.StartsWith(root))
            .Select(target => target[root.Length..].Split('.')[0])
            .Where(other => other != folder)
            .Distinct();
        Assert.Empty(used.Except(ServerFolders[folder]));
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Namespaces_DependOnEachOtherOneWayOnly(string project)
    {
        // Every namespace is a node: the project's root, each folder and each subfolder. Contracts that two folders
        // share live below both of them, never in a namespace that also uses them.
        var cycles = NamespaceGraph.Of(Assembly.Load(Rule(project).AssemblyName), Rule(project).RootNamespace).Cycles();
        Assert.True(cycles.Count == 0, "namespace cycles:\n" + string.Join("\n", cycles));
    }

    [Fact]
    public void TheGraph_FindsAPlantedCycleBetweenSubfolders()
    {
        var graph = NamespaceGraph.Of(typeof(DependencyRulesTests).Assembly, Planted.SubfolderCycle);
        Assert.Contains(graph.Cycles(), cycle => cycle.Contains(".Left.Inner") && cycle.Contains(".Right"));
    }

    [Fact]
    public void TheGraph_FindsAPlantedCycleThroughAProjectRoot()
    {
        var graph = NamespaceGraph.Of(typeof(DependencyRulesTests).Assembly, Planted.RootCycle);
        Assert.Contains($"{Planted.RootCycle} -> {Planted.RootCycle}.Child -> {Planted.RootCycle}", graph.Cycles());
    }

    [Fact]
    public void TheGraph_SeesAnAcyclicTreeAsAcyclic()
    {
        var graph = NamespaceGraph.Of(typeof(DependencyRulesTests).Assembly, Planted.Acyclic);
        Assert.NotEmpty(graph.Uses.SelectMany(pair => pair.Value));
        Assert.Empty(graph.Cycles());
    }

    private static XDocument ProjectFile(string project) => XDocument.Load(ProjectFilePath(Rule(project)));

    private static string ProjectFilePath(ProjectRule rule)
    {
        var directory = RepositoryFiles.Path(rule.Directory.Split('/'));
        return Directory.GetFiles(directory, "*.csproj").Single();
    }

    /// <summary>The project whose root namespace is the longest prefix of <paramref name="name"/>; null for others.</summary>
    private static string? ProjectOfNamespace(string name) => Rules
        .Where(rule => name == rule.RootNamespace || name.StartsWith(rule.RootNamespace + "."))
        .MaxBy(rule => rule.RootNamespace.Length)?.Name;

    private static IEnumerable<string> Forbidden(string project, IEnumerable<string?> used) =>
        used.OfType<string>().Where(name => name != project && !Rule(project).Allowed.Contains(name)).Distinct();

    /// <summary><c>using InferServer.X…;</c>, also <c>global</c>, <c>static</c>, aliased and extern-aliased forms.</summary>
    [GeneratedRegex(@"^\s*(global\s+)?using\s+(static\s+)?(\w+\s*=\s*)?(\w+::)?(?<namespace>InferServer(\.\w+)+)")]
    private static partial Regex UsingLine();

    private sealed record ProjectRule(string Name, string Directory, string AssemblyName, string RootNamespace, string[] Allowed);
}
