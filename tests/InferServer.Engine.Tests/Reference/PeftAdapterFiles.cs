using InferServer.Safetensors;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// Writes adapters in the layout PEFT's <c>save_pretrained</c> produces for the kinds the HF fixtures lack: DoRA
/// (<c>lora_magnitude_vector</c> [out], no <c>.weight</c>), LoRA on lm_head, LoRA on token embeddings
/// (<c>lora_embedding_A</c> [r, vocab], <c>lora_embedding_B</c> [hidden, r]). Weights are seeded; a DoRA magnitude is the
/// initial <c>‖W0 + s·B·A‖</c> moved by up to ±30 %, as training moves it.
/// </summary>
public sealed class PeftAdapterFiles : IDisposable
{
    private readonly string baseDirectory;
    private readonly Generator generator;
    private readonly TemporaryDirectory root = new();

    public PeftAdapterFiles(string baseDirectory, ulong seed)
    {
        this.baseDirectory = baseDirectory;
        generator = new Generator(seed);
    }

    public string Root => root.Path;

    /// <summary>A LoRA (or DoRA) adapter of rank r on <paramref name="linears"/> and <paramref name="embeddings"/> (module paths).</summary>
    public string Write(string name, int rank, double alpha, IReadOnlyList<string> linears, IReadOnlyList<string>? embeddings = null, bool dora = false)
    {
        embeddings ??= [];
        var directory = Path.Combine(Root, name);
        Directory.CreateDirectory(directory);
        var targets = string.Join(", ", linears.Concat(embeddings).Select(m => $"\"{m}\""));
        File.WriteAllText(Path.Combine(directory, "adapter_config.json"), $$"""
            {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "inferserver-fixtures/llama-tiny",
             "r": {{rank}}, "lora_alpha": {{alpha}}, "target_modules": [{{targets}}], "use_dora": {{(dora ? "true" : "false")}},
             "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": false}
            """);
        using var scope = NewDisposeScope();
        using var checkpoint = SafetensorsCheckpoint.Open(baseDirectory);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var scale = alpha / rank;
        foreach (var module in linears)
        {
            var weight = checkpoint.Read($"{module}.weight").to(ScalarType.Float64);
            var a = randn([rank, weight.shape[1]], ScalarType.Float64, generator: generator) * 0.1;
            var b = randn([weight.shape[0], rank], ScalarType.Float64, generator: generator) * 0.1;
            tensors[$"base_model.model.{module}.lora_A.weight"] = a.to(ScalarType.Float32);
            tensors[$"base_model.model.{module}.lora_B.weight"] = b.to(ScalarType.Float32);
            if (dora)
            {
                var norm = (weight + scale * b.to(ScalarType.Float32).to(ScalarType.Float64).mm(a.to(ScalarType.Float32).to(ScalarType.Float64))).pow(2).sum(1).sqrt();
                var moved = norm * (1 + (rand([weight.shape[0]], ScalarType.Float64, generator: generator) - 0.5) * 0.6);
                tensors[$"base_model.model.{module}.lora_magnitude_vector"] = moved.to(ScalarType.Float32);
            }
        }
        foreach (var module in embeddings)
        {
            var table = checkpoint.Read($"{module}.weight");
            tensors[$"base_model.model.{module}.lora_embedding_A"] = randn([rank, table.shape[0]], generator: generator) * 0.3;
            tensors[$"base_model.model.{module}.lora_embedding_B"] = randn([table.shape[1], rank], generator: generator) * 0.3;
        }
        SafetensorsWriter.Write(Path.Combine(directory, "adapter_model.safetensors"), tensors);
        return directory;
    }

    public void Dispose()
    {
        generator.Dispose();
        root.Dispose();
    }
}
