using InferServer.LoadGen;
using InferServer.LoadGen.Commands;

const string Usage = """
    inferserver-loadgen: load tests and benchmarks for InferServer (loadtest/README.md)

      run          --scenario base|distinct|uniform|zipf|identical|naive|coldwarm [--kind generate|stream|classify|embed]
                   [--mode closed --concurrency 8 | --mode open --rate 4 --max-in-flight 256]
                   [--requests 100 --duration 60 --grace 30] [--adapters 100 --adapter-prefix a --adapter-offset 0 --zipf-alpha 1.2]
                   [--max-new-tokens 32 --prompt-words 16 --classify-texts 4 --seed 1 --warmup 0]
                   [--churn-interval-ms 0 --churn-adapters 4 --churn-max-cycles 100]
                   [--target http://127.0.0.1:50051 [--allow-remote] [--api-key KEY] | --in-process MODEL_DIR [--torch-threads N --max-batch-rows 64]]
                   [--name NAME] [--json FILE]
      wait-health  [--target http://127.0.0.1:50051] [--timeout 300]
      make-model   --preset demo|medium|large [--seed 1] [--adapters 100 --ranks 16 --adapter-prefix tenant- --adapters-only] DIR
      scale        [--target http://127.0.0.1:50151 --metrics http://127.0.0.1:50152/metrics] [--adapter-counts 5,50,500,1000,2000]
                   [--mixes uniform,zipf --open-counts 5,1000 --concurrency 64 --requests 256 --rounds 3 --max-new-tokens 16]
                   [--adapter-prefix tenant- --cold-prefix cold- --cold-rate 10 --stream-seconds 20] --json FILE
      scale-report --scale FILE.json [--mixed FILE.json] [--merge FILE.json] --out PATH (writes PATH.md and PATH/*.svg)
      soak         --admin-key KEY [--target http://127.0.0.1:50051 --openai http://127.0.0.1:8000 --metrics http://127.0.0.1:50052]
                   [--minutes 10 --warmup-seconds 20 --seed 1 --concurrency 12 --max-new-tokens 12 --long-tokens 64 --prompts 2 --seeded]
                   [--zipf-alpha 1.1 --burst 48 --burst-interval-seconds 4 --churn-interval-ms 700 --churn-adapters 4]
                   [--broken NAME,NAME] [--api-key KEY] [--allow-remote] [--server-pid PID]
      make-soak-model [--tenants 100 --seed 1] DIR
      multiturn    --json FILE [--label on|off --round 1] [--target http://127.0.0.1:50161] [--conversations 32 --adapters 8
                   --adapter-prefix tenant- --zipf-alpha 1.2 --system-tokens 1000 --turns 8 --user-tokens 50 --max-new-tokens 64
                   --vocabulary 32000 --seed 1] [--api-key KEY] [--allow-remote]
      multiturn-report --results DIR --out PATH (pairs multiturn-*.json; writes PATH.md and PATH/ttft-by-turn.svg)
      report       --results DIR --model NAME --machine FILE [--notes FILE] --out FILE.md
    """;

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}

try
{
    var commandLine = new CommandLine(args[1..]);
    return args[0] switch
    {
        "run" => await RunCommand.ExecuteAsync(commandLine),
        "wait-health" => await WaitHealthCommand.ExecuteAsync(commandLine),
        "make-model" => MakeModelCommand.Execute(commandLine),
        "report" => ReportCommand.Execute(commandLine),
        "scale" => await ScaleCommand.ExecuteAsync(commandLine),
        "scale-report" => ScaleReportCommand.Execute(commandLine),
        "soak" => await SoakCommand.ExecuteAsync(commandLine),
        "make-soak-model" => SoakCommand.MakeModel(commandLine),
        "multiturn" => await MultiTurnCommand.ExecuteAsync(commandLine),
        "multiturn-report" => MultiTurnCommand.Report(commandLine),
        _ => throw new ArgumentException($"unknown command '{args[0]}'"),
    };
}
catch (ArgumentException exception)
{
    Console.Error.WriteLine($"error: {exception.Message}");
    Console.Error.WriteLine(Usage);
    return 2;
}
