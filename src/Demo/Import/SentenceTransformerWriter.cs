using System.Globalization;
using System.Text.Json.Nodes;
using InferServer.Safetensors;
using static TorchSharp.torch;

namespace InferServer.Demo.Import;

/// <summary>
/// Writes an imported BERT encoder as sentence-transformers saves one (all-MiniLM-L6-v2's own layout): the Hugging Face
/// BertModel directory (config.json, model.safetensors, vocab.txt, tokenizer_config.json, special_tokens_map.json) plus
/// modules.json, sentence_bert_config.json, 1_Pooling/config.json (mean pooling) and a Normalize module. Output depends
/// only on the input bytes.
/// </summary>
public static class SentenceTransformerWriter
{
    /// <summary>The token limit sentence-transformers uses for all-MiniLM-L6-v2 (its sentence_bert_config.json).</summary>
    public const int MaxSeqLength = 256;

    /// <summary>Writes <paramref name="model"/> with <paramref name="vocabulary"/> (vocab.txt bytes) into <paramref name="directory"/>.</summary>
    public static void Write(string directory, ImportedBert model, byte[] vocabulary)
    {
        Directory.CreateDirectory(directory);
        Directory.CreateDirectory(Path.Combine(directory, "1_Pooling"));
        var h = model.Hyperparameters;
        HuggingFaceFiles.WriteJson(Path.Combine(directory, "config.json"), new JsonObject
        {
            ["architectures"] = new JsonArray("BertModel"),
            ["attention_probs_dropout_prob"] = 0.1,
            ["classifier_dropout"] = null,
            ["gradient_checkpointing"] = false,
            ["hidden_act"] = "gelu",
            ["hidden_dropout_prob"] = 0.1,
            ["hidden_size"] = h.HiddenSize,
            ["initializer_range"] = 0.02,
            ["intermediate_size"] = h.IntermediateSize,
            // ε is a float32 constant in the graph; written as that float's shortest decimal (1e-12, not 9.9999999e-13).
            ["layer_norm_eps"] = double.Parse(((float)h.LayerNormEps).ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
            ["max_position_embeddings"] = h.MaxPositionEmbeddings,
            ["model_type"] = "bert",
            ["num_attention_heads"] = h.NumAttentionHeads,
            ["num_hidden_layers"] = h.NumHiddenLayers,
            ["pad_token_id"] = 0,
            ["position_embedding_type"] = "absolute",
            ["torch_dtype"] = "float32",
            ["transformers_version"] = HuggingFaceFiles.TransformersVersion,
            ["type_vocab_size"] = h.TypeVocabSize,
            ["use_cache"] = true,
            ["vocab_size"] = h.VocabSize,
        });
        WriteWeights(Path.Combine(directory, "model.safetensors"), model.Tensors);
        File.WriteAllBytes(Path.Combine(directory, "vocab.txt"), vocabulary);
        HuggingFaceFiles.WriteJson(Path.Combine(directory, "tokenizer_config.json"), new JsonObject
        {
            ["clean_up_tokenization_spaces"] = true,
            ["cls_token"] = "[CLS]",
            ["do_basic_tokenize"] = true,
            ["do_lower_case"] = true,
            ["mask_token"] = "[MASK]",
            ["model_max_length"] = h.MaxPositionEmbeddings,
            ["never_split"] = null,
            ["pad_token"] = "[PAD]",
            ["sep_token"] = "[SEP]",
            ["strip_accents"] = null,
            ["tokenize_chinese_chars"] = true,
            ["tokenizer_class"] = "BertTokenizer",
            ["unk_token"] = "[UNK]",
        });
        HuggingFaceFiles.WriteJson(Path.Combine(directory, "special_tokens_map.json"), new JsonObject
        {
            ["cls_token"] = "[CLS]",
            ["mask_token"] = "[MASK]",
            ["pad_token"] = "[PAD]",
            ["sep_token"] = "[SEP]",
            ["unk_token"] = "[UNK]",
        });
        HuggingFaceFiles.WriteJson(Path.Combine(directory, "sentence_bert_config.json"), new JsonObject
        {
            ["do_lower_case"] = false,
            ["max_seq_length"] = MaxSeqLength,
        });
        HuggingFaceFiles.WriteJson(Path.Combine(directory, "1_Pooling", "config.json"), new JsonObject
        {
            ["pooling_mode_cls_token"] = false,
            ["pooling_mode_max_tokens"] = false,
            ["pooling_mode_mean_sqrt_len_tokens"] = false,
            ["pooling_mode_mean_tokens"] = true,
            ["word_embedding_dimension"] = h.HiddenSize,
        });
        File.WriteAllText(Path.Combine(directory, "modules.json"), """
            [
              {
                "idx": 0,
                "name": "0",
                "path": "",
                "type": "sentence_transformers.models.Transformer"
              },
              {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling"
              },
              {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize"
              }
            ]

            """);
    }

    private static void WriteWeights(string path, IReadOnlyList<ImportedTensor> tensors)
    {
        using var scope = NewDisposeScope();
        var named = tensors.Select(t => KeyValuePair.Create(t.Name, tensor(t.Data, t.Shape))).ToList();
        SafetensorsWriter.Write(path, named, HuggingFaceFiles.SafetensorsMetadata);
    }
}
