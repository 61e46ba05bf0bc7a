using InferServer.Benchmarks.Lora;

return args.FirstOrDefault() switch
{
    "lora" => LoraBenchmark.Run(LoraBenchmarkOptions.Parse(args.AsSpan(1))),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: InferServer.Benchmarks lora [--quick] [--threads N] [--iterations N] [--layout segments|scattered] [--device cpu|cuda]");
    return 2;
}
