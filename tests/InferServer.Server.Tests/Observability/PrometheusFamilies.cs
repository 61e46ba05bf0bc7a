namespace InferServer.Server.Tests.Observability;

/// <summary>The metric families of a Prometheus text exposition: each family's # TYPE and # HELP, and the names of its samples.</summary>
public sealed class PrometheusFamilies
{
    private static readonly string[] HistogramSuffixes = ["_bucket", "_sum", "_count"];

    private PrometheusFamilies(Dictionary<string, string> types, Dictionary<string, string> help, HashSet<string> sampleNames)
    {
        Types = types;
        Help = help;
        SampleNames = sampleNames;
    }

    /// <summary>Family name → type (counter, gauge, histogram...).</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    /// <summary>Family name → HELP text.</summary>
    public IReadOnlyDictionary<string, string> Help { get; }

    /// <summary>Every sample name present (histogram samples as name_bucket, name_sum, name_count).</summary>
    public IReadOnlySet<string> SampleNames { get; }

    /// <summary>The family a name in a query refers to: the name itself, or a histogram's family for its _bucket/_sum/_count series.</summary>
    public string? FamilyOf(string name)
    {
        if (Types.ContainsKey(name)) return name;
        foreach (var suffix in HistogramSuffixes)
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && Types.TryGetValue(name[..^suffix.Length], out var type) && type == "histogram")
                return name[..^suffix.Length];
        }
        return null;
    }

    public static PrometheusFamilies Parse(string exposition)
    {
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var help = new Dictionary<string, string>(StringComparer.Ordinal);
        var samples = new HashSet<string>(StringComparer.Ordinal);
        foreach (var raw in exposition.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var fields = line["# TYPE ".Length..].Split(' ');
                types[fields[0]] = fields[1];
            }
            else if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                var rest = line["# HELP ".Length..];
                var space = rest.IndexOf(' ');
                help[space < 0 ? rest : rest[..space]] = space < 0 ? "" : rest[(space + 1)..];
            }
            else if (line.Length > 0 && line[0] != '#')
            {
                samples.Add(line[..line.IndexOfAny(['{', ' '])]);
            }
        }
        return new PrometheusFamilies(types, help, samples);
    }
}
