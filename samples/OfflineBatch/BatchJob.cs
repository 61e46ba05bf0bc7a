namespace InferServer.Samples.OfflineBatch;

/// <summary>What to run: a model directory, a directory of PEFT adapters, where the JSONL goes, and how much.</summary>
/// <param name="ModelDirectory">A Hugging Face model directory (config.json, safetensors, tokenizer).</param>
/// <param name="AdaptersDirectory">One PEFT adapter per subdirectory; the subdirectory's name is the adapter's name.</param>
/// <param name="OutputPath">The JSONL file written, one line per prompt in prompt order.</param>
/// <param name="Prompts">How many prompts.</param>
/// <param name="Adapters">How many adapters (the first, by name) the prompts go to, round-robin.</param>
/// <param name="MaxNewTokens">Tokens generated per prompt (greedy).</param>
public sealed record BatchJob(string ModelDirectory, string AdaptersDirectory, string OutputPath, int Prompts = 1_000,
    int Adapters = 10, int MaxNewTokens = 16);
