using System.Globalization;
using System.Text;

namespace InferServer.Server.Tests.OpenAi;

/// <summary>One sample of the Prometheus text exposition format: name, labels, value.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>
/// A small reader of the Prometheus text exposition format (version 0.0.4) as a scraper reads it: comment lines skipped,
/// <c>name{label="value",...} value [timestamp]</c> per sample, label values unescaped (\\, \", \n).
/// </summary>
public sealed class PrometheusText(IReadOnlyList<PrometheusSample> samples)
{
    public IReadOnlyList<PrometheusSample> Samples { get; } = samples;

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
        foreach (var raw in exposition.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
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
        return new PrometheusText(samples);
    }

    private static double ParseValue(string text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };
}
