using InferServer.Demo.Import;
using System.Globalization;
using System.Text.Json.Nodes;
using InferServer.AdapterStore.Peft;
using static TorchSharp.torch;

namespace InferServer.Demo;

/// <summary>
/// The BERT demo: BertForSequenceClassification over the demo WordPiece vocabulary, a three-label sentiment head, and
/// SEQ_CLS adapters that bring their own heads (PEFT saves the head listed in modules_to_save with the adapter).
/// </summary>
internal static class DemoBert
{
    private const int Hidden = 32;
    private const int Layers = 2;
    private const int Heads = 4;
    private const int Intermediate = 64;
    private const int Positions = 128;

    /// <summary>
    /// Heads are drawn wider than initializer_range: with 0.02 an untrained head gives nearly uniform probabilities, and
    /// a demo (or a test) could not see which head was applied.
    /// </summary>
    public const double ClassifierStd = 0.5;

    private static readonly string[] BaseLabels = ["negative", "neutral", "positive"];

    public static DemoModelPlan Plan()
    {
        var tensors = new List<DemoTensor>
        {
            DemoTensor.Weight("bert.embeddings.word_embeddings.weight", DemoTokenizerFiles.BertVocabularySize, Hidden),
            DemoTensor.Weight("bert.embeddings.position_embeddings.weight", Positions, Hidden),
            DemoTensor.Weight("bert.embeddings.token_type_embeddings.weight", 2, Hidden),
            DemoTensor.NormScale("bert.embeddings.LayerNorm.weight", Hidden),
            DemoTensor.Bias("bert.embeddings.LayerNorm.bias", Hidden),
        };
        var modules = new Dictionary<string, LinearModuleShape>(StringComparer.Ordinal);
        for (var layer = 0; layer < Layers; layer++)
        {
            var prefix = $"bert.encoder.layer.{layer}";
            var linears = new (string Name, int In, int Out)[]
            {
                ("attention.self.query", Hidden, Hidden),
                ("attention.self.key", Hidden, Hidden),
                ("attention.self.value", Hidden, Hidden),
                ("attention.output.dense", Hidden, Hidden),
                ("intermediate.dense", Hidden, Intermediate),
                ("output.dense", Intermediate, Hidden),
            };
            foreach (var (name, inFeatures, outFeatures) in linears)
            {
                tensors.Add(DemoTensor.Weight($"{prefix}.{name}.weight", outFeatures, inFeatures));
                tensors.Add(DemoTensor.Bias($"{prefix}.{name}.bias", outFeatures));
                modules.Add($"{prefix}.{name}", new LinearModuleShape(inFeatures, outFeatures));
            }
            foreach (var norm in new[] { "attention.output.LayerNorm", "output.LayerNorm" })
            {
                tensors.Add(DemoTensor.NormScale($"{prefix}.{norm}.weight", Hidden));
                tensors.Add(DemoTensor.Bias($"{prefix}.{norm}.bias", Hidden));
            }
        }
        tensors.Add(DemoTensor.Weight("bert.pooler.dense.weight", Hidden, Hidden));
        tensors.Add(DemoTensor.Bias("bert.pooler.dense.bias", Hidden));
        tensors.Add(new DemoTensor("classifier.weight", [BaseLabels.Length, Hidden], 0, ClassifierStd));
        tensors.Add(DemoTensor.Bias("classifier.bias", BaseLabels.Length));

        var id2Label = new JsonObject();
        var label2Id = new JsonObject();
        for (var i = 0; i < BaseLabels.Length; i++)
        {
            id2Label[i.ToString(CultureInfo.InvariantCulture)] = BaseLabels[i];
            label2Id[BaseLabels[i]] = i;
        }
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("BertForSequenceClassification"),
            ["attention_probs_dropout_prob"] = 0.1,
            ["classifier_dropout"] = null,
            ["hidden_act"] = "gelu",
            ["hidden_dropout_prob"] = 0.1,
            ["hidden_size"] = Hidden,
            ["id2label"] = id2Label,
            ["initializer_range"] = 0.02,
            ["intermediate_size"] = Intermediate,
            ["label2id"] = label2Id,
            ["layer_norm_eps"] = 1e-12,
            ["max_position_embeddings"] = Positions,
            ["model_type"] = "bert",
            ["num_attention_heads"] = Heads,
            ["num_hidden_layers"] = Layers,
            ["pad_token_id"] = 0,
            ["position_embedding_type"] = "absolute",
            ["problem_type"] = "single_label_classification",
            ["torch_dtype"] = "float32",
            ["transformers_version"] = HuggingFaceFiles.TransformersVersion,
            ["type_vocab_size"] = 2,
            ["use_cache"] = true,
            ["vocab_size"] = DemoTokenizerFiles.BertVocabularySize,
        };
        DemoAdapter[] adapters =
        [
            new("sentiment-cls2", Rank: 4, Alpha: 8) { TargetNames = ["query", "value"], ClassifierLabels = 2, LabelNames = ["negative", "positive"] },
            // No id2label: PEFT itself never writes one, so this head's labels are transformers' LABEL_0..LABEL_2.
            new("topic-cls3", Rank: 8, Alpha: 16) { TargetNames = ["query", "key", "value"], ClassifierLabels = 3 },
        ];
        return new DemoModelPlan(DemoModelKind.Bert, config, null, ScalarType.Float32, tensors, modules, Hidden, WordPiece: true, adapters);
    }
}
