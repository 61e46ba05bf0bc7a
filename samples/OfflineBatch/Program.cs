using InferServer.Samples.OfflineBatch;
using Spectre.Console;

// offline-batch MODEL_DIR ADAPTERS_DIR OUTPUT.jsonl [PROMPTS] [ADAPTERS]
//   Runs PROMPTS prompts (default 1,000) round-robin over the first ADAPTERS adapters (default 10) found in ADAPTERS_DIR,
//   all batched together by one in-process engine, and writes one JSON line per prompt, in prompt order.
if (args.Length is < 3 or > 5)
{
    Console.Error.WriteLine("usage: offline-batch MODEL_DIR ADAPTERS_DIR OUTPUT.jsonl [PROMPTS] [ADAPTERS]");
    return 2;
}
var job = new BatchJob(args[0], args[1], args[2],
    Prompts: args.Length > 3 ? int.Parse(args[3]) : 1_000,
    Adapters: args.Length > 4 ? int.Parse(args[4]) : 10);
var summary = await BatchRunner.RunAsync(job, AnsiConsole.Console);
AnsiConsole.MarkupLineInterpolated($"[green]{summary.Completed}[/] completions, {summary.CompletionTokens} tokens in {summary.Elapsed.TotalSeconds:0.0} s ({summary.TokensPerSecond:0} tok/s) -> {job.OutputPath}");
return 0;
