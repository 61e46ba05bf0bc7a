using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using Prometheus;

namespace InferServer.Server.Observability;

/// <summary>
/// Exposes this host's Meters (the "InferServer" Meter and ASP.NET Core's) in the host's own Prometheus registry with
/// Prometheus types: Counter&lt;T&gt; and ObservableCounter&lt;T&gt; as <c>counter</c> named <c>..._total</c>, histograms as
/// <c>histogram</c>, the rest as <c>gauge</c>, base units in the names (<see cref="PrometheusNames"/>), the instrument's
/// description as HELP. The instruments stay defined once, on the Meter, where OpenTelemetry reads them too.
/// </summary>
/// <remarks>
/// Why not prometheus-net's MeterAdapter: it exports counters as gauges holding the running total (so Prometheus's
/// rate() and Grafana's counter handling do not apply), leaves units out of names, and listens to every Meter in the
/// process, msquic's private.InternalDiagnostics.* gauges included, and in a process with several hosts (the tests) to
/// the other hosts' Meters. This listens only to Meters made by this host's <see cref="IMeterFactory"/>.
/// <para>
/// Observable gauges are read at scrape time; a label set not reported by the latest read is removed, so a gauge whose
/// labels describe state (the LoRA info gauge's adapter lists) shows the current state only.
/// </para>
/// </remarks>
public sealed partial class PrometheusMeterBridge : IHostedService, IDisposable
{
    // Seconds-valued histograms without bucket advice: 1 ms to 100 s, so a CPU prefill of several seconds still lands
    // in a bucket (prometheus-net's default stops at 10 s).
    private static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100];

    private readonly MeterListener listener = new();
    private readonly IMeterFactory meterFactory;
    private readonly IMetricFactory metrics;
    private readonly ILogger<PrometheusMeterBridge> logger;
    private readonly ConcurrentBag<Binding> observableGauges = [];
    private readonly Lock observing = new();

    public PrometheusMeterBridge(IMeterFactory meterFactory, CollectorRegistry registry, ILogger<PrometheusMeterBridge> logger)
    {
        this.meterFactory = meterFactory;
        this.logger = logger;
        metrics = Metrics.WithCustomRegistry(registry);
        listener.InstrumentPublished = Publish;
        listener.SetMeasurementEventCallback<byte>(Record);
        listener.SetMeasurementEventCallback<short>(Record);
        listener.SetMeasurementEventCallback<int>(Record);
        listener.SetMeasurementEventCallback<long>(Record);
        listener.SetMeasurementEventCallback<float>(Record);
        listener.SetMeasurementEventCallback<double>(Record);
        listener.SetMeasurementEventCallback<decimal>(Record);
        registry.AddBeforeCollectCallback(Observe);
    }

    /// <summary>Starts listening; instruments created before this are published now, later ones as they appear.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        listener.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => listener.Dispose();

    private void Publish(Instrument instrument, MeterListener meterListener)
    {
        if (!ReferenceEquals(instrument.Meter.Scope, meterFactory) || instrument.Meter.Name.StartsWith("private.", StringComparison.Ordinal))
        {
            return;
        }

        var (kind, observable) = Classify(instrument);
        var binding = new Binding(PrometheusNames.For(instrument, kind), Help(instrument), kind, observable, Buckets(instrument));
        if (observable && kind == PrometheusKind.Gauge)
        {
            observableGauges.Add(binding);
        }

        meterListener.EnableMeasurementEvents(instrument, binding);
    }

    private void Record<T>(Instrument instrument, T measurement, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
        where T : struct, System.Numerics.INumberBase<T>
    {
        if (state is not Binding binding)
        {
            return;
        }

        try
        {
            binding.Record(metrics, double.CreateChecked(measurement), tags, instrument);
        }
        catch (Exception e)
        {
            // Metrics must never break serving: a measurement that cannot be exposed is logged and dropped.
            Log.MeasurementDropped(logger, e, binding.Name);
        }
    }

    /// <summary>Reads the observable instruments (before each collection) and drops gauge label sets no longer reported.</summary>
    private void Observe()
    {
        lock (observing)
        {
            listener.RecordObservableInstruments();
            foreach (var binding in observableGauges)
            {
                binding.RemoveUnobserved();
            }
        }
    }

    private static (PrometheusKind Kind, bool Observable) Classify(Instrument instrument)
    {
        var type = instrument.GetType();
        var definition = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
        if (definition == typeof(Counter<>))
        {
            return (PrometheusKind.Counter, false);
        }

        if (definition == typeof(ObservableCounter<>))
        {
            return (PrometheusKind.Counter, true);
        }

        if (definition == typeof(Histogram<>))
        {
            return (PrometheusKind.Histogram, false);
        }

        return (PrometheusKind.Gauge, instrument.IsObservable);
    }

    private static string Help(Instrument instrument) =>
        string.IsNullOrWhiteSpace(instrument.Description) ? instrument.Name : instrument.Description;

    private static double[]? Buckets(Instrument instrument) => instrument switch
    {
        Histogram<double> { Advice.HistogramBucketBoundaries: { } advised } => [.. advised],
        Histogram<long> { Advice.HistogramBucketBoundaries: { } advised } => [.. advised.Select(bound => (double)bound)],
        Histogram<int> { Advice.HistogramBucketBoundaries: { } advised } => [.. advised.Select(bound => (double)bound)],
        _ when instrument.Unit == "s" => SecondsBuckets,
        _ => null,
    };

    /// <summary>One instrument's Prometheus family; a collector per set of tag names (a .NET tag may be absent on some measurements).</summary>
    private sealed class Binding(string name, string help, PrometheusKind kind, bool observable, double[]? buckets)
    {
        private readonly ConcurrentDictionary<string, Collector> collectors = new(StringComparer.Ordinal);
        private HashSet<ChildBase> observedBefore = [];
        private HashSet<ChildBase> observedNow = [];

        public string Name { get; } = name;

        public void Record(IMetricFactory metrics, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, Instrument instrument)
        {
            // Tag order is the caller's; labels are sorted by name so that one label set is one series.
            var labels = new (string Name, string Value)[tags.Length];
            for (var i = 0; i < tags.Length; i++)
            {
                labels[i] = (PrometheusNames.Sanitize(tags[i].Key), LabelValue(tags[i].Value));
            }

            Array.Sort(labels, (left, right) => string.CompareOrdinal(left.Name, right.Name));
            var names = labels.Select(label => label.Name).ToArray();
            var values = labels.Select(label => label.Value).ToArray();
            var collector = collectors.GetOrAdd(string.Join(',', names), _ => Create(metrics, names));
            switch (collector)
            {
                case Counter counter when observable:
                    // ObservableCounter reports the running total.
                    counter.WithLabels(values).IncTo(value);
                    break;
                case Counter counter:
                    if (value > 0)
                    {
                        counter.WithLabels(values).Inc(value);
                    }

                    break;
                case Histogram histogram:
                    histogram.WithLabels(values).Observe(value);
                    break;
                case Gauge gauge when observable || instrument.GetType().GetGenericTypeDefinition() == typeof(Gauge<>):
                    var child = gauge.WithLabels(values);
                    child.Set(value);
                    if (observable)
                    {
                        observedNow.Add(child);
                    }

                    break;
                case Gauge gauge:
                    // UpDownCounter reports increments.
                    gauge.WithLabels(values).Inc(value);
                    break;
            }
        }

        /// <summary>Removes the label sets of an observable gauge that the latest read did not report.</summary>
        public void RemoveUnobserved()
        {
            foreach (var child in observedBefore)
            {
                if (!observedNow.Contains(child))
                {
                    child.Remove();
                }
            }
            (observedBefore, observedNow) = (observedNow, observedBefore);
            observedNow.Clear();
        }

        private Collector Create(IMetricFactory metrics, string[] labelNames) => kind switch
        {
            PrometheusKind.Counter => metrics.CreateCounter(Name, help, labelNames),
            PrometheusKind.Histogram => metrics.CreateHistogram(Name, help, new HistogramConfiguration { LabelNames = labelNames, Buckets = buckets }),
            _ => metrics.CreateGauge(Name, help, labelNames),
        };

        private static string LabelValue(object? value) => value switch
        {
            null => "",
            bool flag => flag ? "true" : "false",
            _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
        };
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "A measurement of {Metric} could not be exposed to Prometheus", EventName = "MeasurementDropped")]
        public static partial void MeasurementDropped(ILogger logger, Exception exception, string metric);
    }
}
