using System.Globalization;
using System.Text;

namespace InferServer.Server.Tests.Observability;

/// <summary>One sample of the Prometheus text exposition format: name, labels, value.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>
/// A small reader of the Prometheus text exposition format (version 0.0.4) as a scraper reads it:
/// <c>name{label="value",...} value [timestamp]</c> per sample, label values unescaped (\\, \", \n), and each metric
/// family's <c># TYPE</c> and <c># HELP</c>; other comment lines skipped.
/// </summary>
public sealed class PrometheusText
{
    private static readonly string[] HistogramSuffixes = ["_bucket", "_sum", "_count"];

    private PrometheusText(IReadOnlyList<PrometheusSample> samples, Dictionary<string, string> types, Dictionary<string, string> help)
    {
        Samples = samples;
        Types = types;
        Help = help;
        SampleNames = samples.Select(sample => sample.Name).ToHashSet(StringComparer.Ordinal);
    }

    public IReadOnlyList<PrometheusSample> Samples { get; }

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

    /// <summary>Every sample of metric <paramref name="name"/>.</summary>
    public IReadOnlyList<PrometheusSample> All(string name) => [.. Samples.Where(sample => sample.Name == name)];

    /// <summary>The one sample of an unlabelled metric.</summary>
    public double Single(string name) => Assert.Single(All(name)).Value;

    /// <summary>
    /// The series with the largest value: how the Inference Extension's endpoint picker reads the LoRA info gauge, whose
    /// value is the time of the status its labels describe.
    /// </summary>
    public PrometheusSample Latest(string name) => All(name).MaxBy(sample => sample.Value)
        ?? throw new Xunit.Sdk.XunitException($"no sample of {name}");

    public static PrometheusText Parse(string exposition)
    {
        var samples = new List<PrometheusSample>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var help = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in exposition.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var typeFields = line["# TYPE ".Length..].Split(' ');
                types[typeFields[0]] = typeFields[1];
                continue;
            }
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                var rest = line["# HELP ".Length..];
                var space = rest.IndexOf(' ');
                help[space < 0 ? rest : rest[..space]] = space < 0 ? "" : rest[(space + 1)..];
                continue;
            }
            if (line.Length == 0 || line[0] == '#') continue;
            var position = 0;
            while (position < line.Length && line[position] is not ('{' or ' ')) position++;
            var name = line[..position];
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (position < line.Length && line[position] == '{')
            {
                position++;
                while (line[position] != '}')
                {
                    var equals = line.IndexOf('=', position);
                    var label = line[position..equals].Trim();
                    position = equals + 1;
                    if (line[position] != '"') throw new FormatException($"label value must be quoted: {line}");
                    position++;
                    var value = new StringBuilder();
                    while (line[position] != '"')
                    {
                        if (line[position] == '\\')
                        {
                            position++;
                            value.Append(line[position] == 'n' ? '\n' : line[position]);
                        }
                        else
                        {
                            value.Append(line[position]);
                        }
                        position++;
                    }
                    labels[label] = value.ToString();
                    position++;
                    if (line[position] == ',') position++;
                }
                position++;
            }
            var fields = line[position..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            samples.Add(new PrometheusSample(name, labels, ParseValue(fields[0])));
        }
        return new PrometheusText(samples, types, help);
    }

    private static double ParseValue(string text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };
}
