using InferServer.LoadGen.Soak;
using static TorchSharp.torch;

namespace InferServer.Server.Tests.Reliability;

/// <summary>Adapters for llama-tiny that cannot be served, written once per test run under a root of their own.</summary>
public static class BrokenAdapters
{
    /// <summary>Hundreds of tensors for modules the model does not have, each a separate problem.</summary>
    public const string ManyProblems = "many-problems";

    /// <summary>Valid PEFT files for a model with other shapes (hidden 128 instead of 64).</summary>
    public const string WrongBase = "wrong-base";

    /// <summary>An adapter_config.json that is not JSON.</summary>
    public const string CorruptConfig = "corrupt-config";

    /// <summary>adapter_model.safetensors cut off in the middle.</summary>
    public const string TruncatedWeights = "truncated-weights";

    private static readonly Lazy<string> Root = new(Write);

    public static IReadOnlyList<string> All => [ManyProblems, WrongBase, CorruptConfig, TruncatedWeights];

    public static string WriteRoot() => Root.Value;

    private static string Write()
    {
        var root = ProcessScratch.Directory("broken-adapters");
        using (NewDisposeScope())
        {
            var many = new Dictionary<string, Tensor>();
            for (var i = 0; i < 400; i++)
            {
                many[$"base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight"] = zeros(4, 64);
                many[$"base_model.model.model.layers.{i}.self_attn.q_proj.lora_B.weight"] = zeros(64, 4);
            }
            BrokenAdapterFiles.WriteLora(Path.Combine(root, ManyProblems), many);
        }
        BrokenAdapterFiles.WriteWrongBase(Path.Combine(root, WrongBase));
        BrokenAdapterFiles.WriteCorruptConfig(Path.Combine(root, CorruptConfig));
        BrokenAdapterFiles.WriteTruncatedWeights(Path.Combine(root, TruncatedWeights));
        return root;
    }
}
