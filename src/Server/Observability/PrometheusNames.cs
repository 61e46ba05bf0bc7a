using System.Diagnostics.Metrics;
using System.Text;

namespace InferServer.Server.Observability;

/// <summary>
/// Prometheus names for .NET instruments, by the Prometheus naming guide (https://prometheus.io/docs/practices/naming/)
/// and OpenMetrics: the Meter name as prefix ("InferServer" → inferserver_), the base unit as suffix ("s" → _seconds,
/// "By" → _bytes; annotations such as "{request}" and the dimensionless "1" add nothing), and _total on counters.
/// </summary>
public static class PrometheusNames
{
    /// <summary>The Prometheus family name of <paramref name="instrument"/>, exposed as <paramref name="kind"/>.</summary>
    public static string For(Instrument instrument, PrometheusKind kind)
    {
        var name = Sanitize(instrument.Meter.Name) + "_" + Sanitize(instrument.Name);
        // An info metric's value is not a quantity (ours carries the status time), so its unit names nothing.
        if (!name.EndsWith("_info", StringComparison.Ordinal) && UnitSuffix(instrument.Unit) is { } unit && !name.EndsWith(unit, StringComparison.Ordinal))
        {
            name += unit;
        }

        return kind == PrometheusKind.Counter ? name + "_total" : name;
    }

    /// <summary>A metric or label name: lower case, every character outside [a-z0-9_] replaced by '_'.</summary>
    public static string Sanitize(string name)
    {
        var text = new StringBuilder(name.Length);
        foreach (var character in name.ToLowerInvariant())
        {
            text.Append(character is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' ? character : '_');
        }

        if (text.Length > 0 && char.IsAsciiDigit(text[0]))
        {
            text.Insert(0, '_');
        }

        return text.ToString();
    }

    // UCUM codes as OpenTelemetry writes them; only base units, as Prometheus wants (no _milliseconds, no _kilobytes).
    private static string? UnitSuffix(string? unit) => unit switch
    {
        "s" => "_seconds",
        "By" => "_bytes",
        _ => null,
    };
}
