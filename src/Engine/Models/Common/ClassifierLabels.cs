using System.Globalization;

namespace InferServer.Engine.Models.Common;

/// <summary>How transformers' PretrainedConfig names a classifier's outputs.</summary>
internal static class ClassifierLabels
{
    /// <summary>Label names by index: id2label when given, else LABEL_i for num_labels (transformers' default is 2).</summary>
    public static IReadOnlyList<string> From(IReadOnlyDictionary<string, string>? id2Label, int? numLabels)
    {
        if (id2Label is { Count: > 0 })
        {
            return Enumerable.Range(0, id2Label.Count)
                .Select(i => id2Label.TryGetValue(i.ToString(CultureInfo.InvariantCulture), out var label) ? label : $"LABEL_{i}")
                .ToArray();
        }

        return Enumerable.Range(0, numLabels ?? 2).Select(i => $"LABEL_{i}").ToArray();
    }
}
