using System.Text.Json;
using InferServer.Safetensors;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// A float64 LlamaForSequenceClassification (and Mistral/Qwen2/Qwen3's, which are the same class in transformers),
/// transcribed from transformers v4.53's src/transformers/modeling_layers.py <c>GenericForSequenceClassification.forward</c>
/// (the body modeling_llama.py's LlamaForSequenceClassification carried from v4.48): logits = score(hidden_states) at every
/// position, then, with no pad_token_id, the last position (batch size 1), else
/// <c>(arange(len) * (input_ids != pad_token_id)).argmax(-1)</c>; probabilities as transformers' text-classification
/// pipeline gives them (softmax, or sigmoid for one label). The decoder is <see cref="ReferenceLlama"/>; an adapter's head is
/// read from its own file (PEFT saves modules_to_save as base_model.model.score.weight).
/// </summary>
public sealed class ReferenceDecoderClassifier : IDisposable
{
    private readonly ReferenceLlama decoder;
    private readonly int? padTokenId;

    private ReferenceDecoderClassifier(ReferenceLlama decoder, int? padTokenId)
    {
        this.decoder = decoder;
        this.padTokenId = padTokenId;
    }

    public static ReferenceDecoderClassifier Load(string directory)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "config.json")));
        var pad = document.RootElement.TryGetProperty("pad_token_id", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt32() : (int?)null;
        return new ReferenceDecoderClassifier(ReferenceLlama.Load(directory), pad);
    }

    /// <summary>The adapter's own score head [labels, hidden] in float64, or null when it brings none.</summary>
    public static Tensor? AdapterHead(string adapterDirectory)
    {
        using var file = SafetensorsFile.Open(Path.Combine(adapterDirectory, "adapter_model.safetensors"));
        const string key = "base_model.model.score.weight";
        return file.Tensors.ContainsKey(key) ? file.Read(key).to(ScalarType.Float64) : null;
    }

    /// <summary>Class probabilities of one unpadded text, with the base head or <paramref name="head"/>.</summary>
    public double[] Probabilities(long[] tokens, ReferenceLora? lora = null, Tensor? head = null)
    {
        using var scope = NewDisposeScope();
        var logits = decoder.Hidden(tokens, lora).matmul((head ?? decoder.Weight("score.weight")).t());
        long pooled;
        if (padTokenId is not int pad)
        {
            pooled = tokens.Length - 1;
        }
        else
        {
            var nonPad = tensor(tokens).ne(pad).to(ScalarType.Int32);
            var indices = arange(tokens.Length, dtype: ScalarType.Int32);
            pooled = (indices * nonPad).argmax(-1).item<long>();
        }

        var row = logits[pooled];
        return (row.shape[0] == 1 ? row.sigmoid() : row.softmax(-1)).data<double>().ToArray();
    }

    public void Dispose() => decoder.Dispose();
}
