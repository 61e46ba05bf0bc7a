using InferServer.Server.Tests.Api.OpenAi;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace InferServer.Server.Tests.Observability;

/// <summary>
/// deploy/grafana/inferserver-dashboard.json is valid JSON and every query in it reads metrics a real server exports,
/// with rate() only over counters and histogram buckets.
/// </summary>
[Collection(OpenAiServerCollection.Name)]
public sealed partial class GrafanaDashboardTests(ScrapedServer server) : IClassFixture<ScrapedServer>
{
    [Fact]
    public void EveryQuery_NamesMetricsTheServerExports()
    {
        var families = PrometheusText.Parse(server.Exposition);
        var queries = Queries(LoadDashboard()).ToList();

        Assert.NotEmpty(queries);
        foreach (var query in queries)
        {
            var names = MetricName().Matches(query).Select(match => match.Value).Distinct().ToList();
            Assert.True(names.Count > 0, $"the query names no InferServer metric: {query}");
            foreach (var name in names)
                Assert.True(families.FamilyOf(name) is not null, $"{name} in \"{query}\" is not exported by the server");
        }
    }

    [Fact]
    public void RateAndIncrease_ApplyOnlyToCountersAndHistogramSeries()
    {
        var families = PrometheusText.Parse(server.Exposition);

        foreach (var query in Queries(LoadDashboard()))
        {
            foreach (Match call in RateCall().Matches(query))
            {
                var name = call.Groups["metric"].Value;
                var family = families.FamilyOf(name);
                var type = family is null ? null : families.Types[family];
                Assert.True(type == "counter" || (type == "histogram" && name != family), $"rate() over {name} ({type ?? "not exported"}) in \"{query}\"");
            }
        }
    }

    [Fact]
    public void Dashboard_HasThePanelsTheIssueAsksFor()
    {
        var titles = Panels(LoadDashboard().RootElement).Select(panel => panel.GetProperty("title").GetString()!).ToList();

        foreach (var wanted in new[] { "Requests per second by adapter", "Time to first token by adapter", "Time to first token by served_from",
                     "Time per output token by adapter", "Time per output token by served_from", "Queue and running requests", "KV cache",
                     "Adapter residency", "Adapter loads, evictions and merges per second", "Prefix cache hit rate by adapter", "Cached KV blocks" })
            Assert.Contains(wanted, titles);
    }

    private static JsonDocument LoadDashboard() =>
        JsonDocument.Parse(File.ReadAllText(RepositoryFiles.Path("deploy", "grafana", "inferserver-dashboard.json")));

    /// <summary>Every PromQL expression: panel targets' expr and query variables' query.</summary>
    private static IEnumerable<string> Queries(JsonDocument dashboard)
    {
        foreach (var panel in Panels(dashboard.RootElement))
        {
            if (!panel.TryGetProperty("targets", out var targets)) continue;
            foreach (var target in targets.EnumerateArray())
                yield return target.GetProperty("expr").GetString()!;
        }
        foreach (var variable in dashboard.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray())
        {
            if (variable.GetProperty("type").GetString() == "query")
                yield return variable.GetProperty("query").GetProperty("query").GetString()!;
        }
    }

    private static IEnumerable<JsonElement> Panels(JsonElement container)
    {
        foreach (var panel in container.GetProperty("panels").EnumerateArray())
        {
            yield return panel;
            if (panel.TryGetProperty("panels", out _))
                foreach (var nested in Panels(panel)) yield return nested;
        }
    }

    [GeneratedRegex(@"\binferserver_[a-z0-9_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"\b(?:rate|irate|increase)\(\s*(?<metric>[a-zA-Z_:][a-zA-Z0-9_:]*)")]
    private static partial Regex RateCall();
}
