namespace InferServer.Demo;

/// <summary>
/// One demo PEFT LoRA adapter, in the terms of adapter_config.json. Exactly one of <see cref="TargetNames"/> (PEFT's
/// list form, matched by module-name suffix) and <see cref="TargetRegex"/> (the string form, a full-match regex) is set.
/// </summary>
internal sealed record DemoAdapter(string Name, int Rank, int Alpha)
{
    public IReadOnlyList<string>? TargetNames { get; init; }

    public string? TargetRegex { get; init; }

    public bool UseRslora { get; init; }

    /// <summary>
    /// PEFT use_dora: each adapted linear module also gets lora_magnitude_vector [out], the initial ‖W0 + s·B·A‖ per
    /// output row moved as training moves it, so the magnitude visibly changes the outputs.
    /// </summary>
    public bool UseDora { get; init; }

    /// <summary>PEFT rank_pattern: module-name pattern → rank.</summary>
    public IReadOnlyDictionary<string, int>? RankPattern { get; init; }

    /// <summary>PEFT alpha_pattern: module-name pattern → alpha.</summary>
    public IReadOnlyDictionary<string, int>? AlphaPattern { get; init; }

    public IReadOnlyList<int>? LayersToTransform { get; init; }

    public string? LayersPattern { get; init; }

    /// <summary>True for GPT-2's Conv1D targets, as PEFT writes it (it changes nothing in the saved A and B).</summary>
    public bool FanInFanOut { get; init; }

    /// <summary>Labels of the adapter's own classifier head (SEQ_CLS); 0 for a causal-LM adapter.</summary>
    public int ClassifierLabels { get; init; }

    /// <summary>PEFT task_type; null = SEQ_CLS with a head, else CAUSAL_LM.</summary>
    public string? TaskType { get; init; }

    /// <summary>Label names saved in adapter_config.json's id2label (not a PEFT key; the loader reads it when present).</summary>
    public IReadOnlyList<string>? LabelNames { get; init; }
}
