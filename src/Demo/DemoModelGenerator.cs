using InferServer.Safetensors;
using InferServer.Demo.Import;
using static TorchSharp.torch;

namespace InferServer.Demo;

/// <summary>
/// Writes small, randomly initialised models in the exact layout Hugging Face tools produce (config.json,
/// model.safetensors, tokenizer files, generation_config.json) with PEFT LoRA adapters under adapters/{name}/, so the
/// server can be run, demonstrated and tested without downloading anything. Output depends only on the kind and the
/// seed: the same seed gives byte-identical files on every machine.
/// </summary>
public static class DemoModelGenerator
{
    /// <summary>The small demo kinds, in the order <see cref="WriteAll"/> writes them (the opt-in benchmark model is not one).</summary>
    public static IReadOnlyList<DemoModelKind> Kinds { get; } =
        Enum.GetValues<DemoModelKind>().Where(k => k is not (DemoModelKind.LlamaLarge or DemoModelKind.MiniLm or DemoModelKind.LlamaMedium)).ToArray();

    /// <summary>The kind a command-line name (<see cref="DirectoryName"/>) stands for, or null.</summary>
    public static DemoModelKind? Named(string name) =>
        Enum.GetValues<DemoModelKind>().Where(k => DirectoryName(k) == name).Select(k => (DemoModelKind?)k).FirstOrDefault();

    /// <summary>The kind's name on the command line and as a directory under <see cref="WriteAll"/>'s root: "llama", "gpt2"…</summary>
    public static string DirectoryName(DemoModelKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>Writes the demo model <paramref name="kind"/> into <paramref name="directory"/> (created if needed).</summary>
    public static DemoModelInfo Write(string directory, DemoModelKind kind, int seed = 0)
    {
        var plan = DemoModelPlan.For(kind);
        Directory.CreateDirectory(directory);
        if (kind == DemoModelKind.MiniLm)
        {
            return WriteMiniLm(directory, plan, seed);
        }

        WriteCheckpoint(Path.Combine(directory, "model.safetensors"), plan, seed);
        HuggingFaceFiles.WriteJson(Path.Combine(directory, "config.json"), plan.Config);
        if (plan.GenerationConfig is not null)
        {
            HuggingFaceFiles.WriteJson(Path.Combine(directory, "generation_config.json"), plan.GenerationConfig);
        }

        if (plan.WordPiece)
        {
            DemoTokenizerFiles.WriteBert(directory);
        }
        else
        {
            DemoTokenizerFiles.Write(directory, plan.ChatTemplate);
        }

        foreach (var adapter in plan.Adapters)
        {
            DemoAdapterWriter.Write(Path.Combine(directory, "adapters", adapter.Name), plan, adapter, seed);
        }

        var bytes = plan.Files().Sum(file => new FileInfo(Path.Combine(directory, file)).Length);
        return new DemoModelInfo(kind, directory, plan.Adapters.Select(a => a.Name).ToArray(), bytes);
    }

    private static DemoModelInfo WriteMiniLm(string directory, DemoModelPlan plan, int seed)
    {
        Import.MiniLmImport.Write(directory);
        foreach (var adapter in plan.Adapters)
        {
            DemoAdapterWriter.Write(Path.Combine(directory, "adapters", adapter.Name), plan, adapter, seed);
        }

        var bytes = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        return new DemoModelInfo(DemoModelKind.MiniLm, directory, plan.Adapters.Select(a => a.Name).ToArray(), bytes);
    }

    /// <summary>
    /// Writes <paramref name="count"/> adapters named tenant-000… for the <paramref name="kind"/> demo's shape into
    /// <paramref name="adaptersDirectory"/>: rank <paramref name="rank"/>, alpha 2·rank, on <paramref name="targets"/>.
    /// Benchmarks and load tests use them to put many distinct adapters in play.
    /// </summary>
    public static IReadOnlyList<string> WriteTenantAdapters(string adaptersDirectory, DemoModelKind kind, int count, int rank,
        IReadOnlyList<string> targets, int seed = 0) =>
        WriteTenantAdapters(adaptersDirectory, kind, count, [rank], targets, "tenant-", seed);

    /// <summary>
    /// Writes <paramref name="count"/> adapters named <paramref name="prefix"/>000…, adapter i of rank
    /// <paramref name="ranks"/>[i mod length] (alpha 2·rank), so one call can write a set of mixed ranks.
    /// </summary>
    public static IReadOnlyList<string> WriteTenantAdapters(string adaptersDirectory, DemoModelKind kind, int count, IReadOnlyList<int> ranks,
        IReadOnlyList<string> targets, string prefix, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfZero(ranks.Count);
        var plan = DemoModelPlan.For(kind);
        var names = Enumerable.Range(0, count).Select(i => $"{prefix}{i:D3}").ToArray();
        for (var i = 0; i < names.Length; i++)
        {
            var rank = ranks[i % ranks.Count];
            DemoAdapterWriter.Write(Path.Combine(adaptersDirectory, names[i]), plan,
                new DemoAdapter(names[i], rank, 2 * rank) { TargetNames = targets }, seed);
        }
        return names;
    }

    /// <summary>Writes every kind into <paramref name="root"/>/{<see cref="DirectoryName"/>}.</summary>
    public static IReadOnlyList<DemoModelInfo> WriteAll(string root, int seed = 0) =>
        Kinds.Select(kind => Write(Path.Combine(root, DirectoryName(kind)), kind, seed)).ToArray();

    /// <summary>Where the default demo model is generated: $XDG_CACHE_HOME/inferserver, else ~/.cache/inferserver.</summary>
    public static string DefaultCacheRoot()
    {
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(cache))
        {
            cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        }

        return Path.Combine(cache, "inferserver");
    }

    /// <summary>
    /// The llama demo under <paramref name="cacheRoot"/>, written (seed 0) only when it is missing or incomplete: what
    /// the server serves when started without a model. The model is written beside the target and moved into place, so
    /// a process that stops half-way, or two that start together, never leave a partial directory to be served.
    /// </summary>
    public static string EnsureDefault(string cacheRoot)
    {
        const DemoModelKind kind = DemoModelKind.Llama;
        var target = Path.Combine(cacheRoot, DirectoryName(kind));
        if (IsComplete(target, kind))
        {
            return target;
        }

        Directory.CreateDirectory(cacheRoot);
        var staging = Path.Combine(cacheRoot, $".{DirectoryName(kind)}.partial-{Guid.NewGuid():N}");
        try
        {
            Write(staging, kind);
            if (Directory.Exists(target))
            {
                Directory.Delete(target, recursive: true);
            }

            Directory.Move(staging, target);
        }
        catch (IOException) when (IsComplete(target, kind))
        {
            // Another process put a complete copy in place first; theirs is identical (same seed).
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
        return target;
    }

    /// <summary>True when <paramref name="directory"/> holds every file of the demo <paramref name="kind"/>, none of them empty.</summary>
    public static bool IsComplete(string directory, DemoModelKind kind) =>
        DemoModelPlan.For(kind).Files().All(file => new FileInfo(Path.Combine(directory, file)) is { Exists: true, Length: > 0 });

    /// <summary>A float32 tensor drawn from the stream <paramref name="stream"/> of <paramref name="seed"/>.</summary>
    internal static Tensor Draw(int seed, string stream, long[] shape, double mean, double std)
    {
        var count = shape.Aggregate(1L, (product, dimension) => product * dimension);
        return tensor(DemoRandom.For(seed, stream).Normal(count, mean, std), shape);
    }

    private static void WriteCheckpoint(string path, DemoModelPlan plan, int seed)
    {
        using var scope = NewDisposeScope();
        var prefix = DirectoryName(plan.Kind) + "/";
        var tensors = plan.Tensors
            .Select(t => KeyValuePair.Create(t.Key, Draw(seed, prefix + t.Key, t.Shape, t.Mean, t.Std).to(plan.WeightDType)))
            .ToList();
        SafetensorsWriter.Write(path, tensors, HuggingFaceFiles.SafetensorsMetadata);
    }
}
