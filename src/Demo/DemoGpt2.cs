using InferServer.Demo.Import;
using System.Text.Json.Nodes;
using InferServer.AdapterStore.Peft;
using static TorchSharp.torch;

namespace InferServer.Demo;

/// <summary>
/// The GPT-2 demo, in GPT2LMHeadModel's checkpoint layout: keys under "transformer.", the head tied to wte (no
/// lm_head.weight), and the four Conv1D weights of each block stored [in, out], which is the layout loaders must
/// transpose. Stored in float32, as GPT-2 checkpoints are.
/// </summary>
internal static class DemoGpt2
{
    private const int Embedding = 32;
    private const int Layers = 2;
    private const int Heads = 4;
    private const int Positions = 512;

    public static DemoModelPlan Plan()
    {
        long vocabulary = DemoTokenizerFiles.Gpt2VocabularySize;
        var inner = 4 * Embedding;
        var tensors = new List<DemoTensor>
        {
            DemoTensor.Weight("transformer.wte.weight", vocabulary, Embedding),
            DemoTensor.Weight("transformer.wpe.weight", Positions, Embedding),
            DemoTensor.NormScale("transformer.ln_f.weight", Embedding),
            DemoTensor.Bias("transformer.ln_f.bias", Embedding),
        };
        var modules = new Dictionary<string, LinearModuleShape>(StringComparer.Ordinal);
        for (var layer = 0; layer < Layers; layer++)
        {
            var prefix = $"transformer.h.{layer}";
            foreach (var norm in new[] { "ln_1", "ln_2" })
            {
                tensors.Add(DemoTensor.NormScale($"{prefix}.{norm}.weight", Embedding));
                tensors.Add(DemoTensor.Bias($"{prefix}.{norm}.bias", Embedding));
            }
            var conv1Ds = new (string Name, int In, int Out)[]
            {
                ("attn.c_attn", Embedding, 3 * Embedding),
                ("attn.c_proj", Embedding, Embedding),
                ("mlp.c_fc", Embedding, inner),
                ("mlp.c_proj", inner, Embedding),
            };
            foreach (var (name, inFeatures, outFeatures) in conv1Ds)
            {
                // Conv1D computes x·W + b with W [in, out] (transformers pytorch_utils.Conv1D).
                tensors.Add(DemoTensor.Weight($"{prefix}.{name}.weight", inFeatures, outFeatures));
                tensors.Add(DemoTensor.Bias($"{prefix}.{name}.bias", outFeatures));
                modules.Add($"{prefix}.{name}", new LinearModuleShape(inFeatures, outFeatures));
            }
        }

        var config = new JsonObject
        {
            ["activation_function"] = "gelu_new",
            ["architectures"] = new JsonArray("GPT2LMHeadModel"),
            ["attn_pdrop"] = 0.1,
            ["bos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
            ["embd_pdrop"] = 0.1,
            ["eos_token_id"] = DemoTokenizerFiles.Gpt2EndOfTextId,
            ["initializer_range"] = 0.02,
            ["layer_norm_epsilon"] = 1e-5,
            ["model_type"] = "gpt2",
            ["n_ctx"] = Positions,
            ["n_embd"] = Embedding,
            ["n_head"] = Heads,
            ["n_inner"] = null,
            ["n_layer"] = Layers,
            ["n_positions"] = Positions,
            ["reorder_and_upcast_attn"] = false,
            ["resid_pdrop"] = 0.1,
            ["scale_attn_by_inverse_layer_idx"] = false,
            ["scale_attn_weights"] = true,
            ["summary_activation"] = null,
            ["summary_first_dropout"] = 0.1,
            ["summary_proj_to_labels"] = true,
            ["summary_type"] = "cls_index",
            ["summary_use_proj"] = true,
            ["torch_dtype"] = "float32",
            ["transformers_version"] = HuggingFaceFiles.TransformersVersion,
            ["use_cache"] = true,
            ["vocab_size"] = DemoTokenizerFiles.Gpt2VocabularySize,
        };
        DemoAdapter[] adapters =
        [
            new("attn-r8", Rank: 8, Alpha: 16) { TargetNames = ["c_attn"], FanInFanOut = true },
            new("all-r4-rslora", Rank: 4, Alpha: 8) { TargetNames = ["c_attn", "c_proj", "c_fc"], FanInFanOut = true, UseRslora = true },
        ];
        return new DemoModelPlan(DemoModelKind.Gpt2, config, DemoGenerationConfig.ForGpt2Tokens(), ScalarType.Float32, tensors, modules, Embedding,
            WordPiece: false, adapters);
    }
}
