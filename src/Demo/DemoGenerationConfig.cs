using InferServer.Demo.Import;
using System.Text.Json.Nodes;

namespace InferServer.Demo;

/// <summary>generation_config.json as transformers derives it from a model config (_from_model_config).</summary>
internal static class DemoGenerationConfig
{
    /// <summary>For models speaking GPT-2 BPE: &lt;|endoftext|&gt; is both BOS and EOS.</summary>
    public static JsonObject ForGpt2Tokens() => new()
    {
        ["_from_model_config"] = true,
        ["bos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
        ["eos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
        ["transformers_version"] = HuggingFaceFiles.TransformersVersion,
    };
}
