using InferServer.Benchmarks.Encoder;
using InferServer.Benchmarks.Engine;
using InferServer.Benchmarks.Invariant;
using InferServer.Benchmarks.Lora;
using InferServer.Benchmarks.Merge;
using InferServer.Benchmarks.Peer;
using InferServer.Benchmarks.Profile;
using InferServer.Benchmarks.Structured;

return args.FirstOrDefault() switch
{
    "lora" => LoraBenchmark.Run(LoraBenchmarkOptions.Parse(args.AsSpan(1))),
    "engine" => EngineBenchmark.Run(EngineBenchmarkOptions.Parse(args.AsSpan(1))),
    "batch-invariant" => BatchInvariantBenchmark.Run(EngineBenchmarkOptions.Parse(args.AsSpan(1))),
    "batch-invariant-kernels" => InvariantKernelProbe.Run(args[1..]),
    "encoder" => EncoderBenchmark.Run(EncoderBenchmarkOptions.Parse(args.AsSpan(1))),
    "merge" => MergeBenchmark.Run(MergeBenchmarkOptions.Parse(args.AsSpan(1))),
    "peer" => PeerBenchmark.Run(PeerBenchmarkOptions.Parse(args.AsSpan(1))),
    "profile" when args.Length > 1 && args[1] == "stream" => StreamingLinearProfile.Run(args[2..]),
    "profile" => DecodeStepProfile.Run(args[1..]),
    "structured" => StructuredBenchmark.Run(args[1..]),
    "constrained-ratio" => ConstrainedRatioBenchmark.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: InferServer.Benchmarks lora [--quick] [--threads N] [--iterations N] [--layout segments|scattered] [--device cpu|cuda]\n"
        + "       InferServer.Benchmarks engine [--model demo|large] [--concurrency 1,8,64] [--tokens N] [--prompt N] [--repeats N] [--threads N]\n"
        + "       InferServer.Benchmarks batch-invariant [--model demo|large] [--concurrency 64] [--tokens N] [--prompt N] [--repeats N] [--threads N]\n"
        + "       InferServer.Benchmarks batch-invariant-kernels [ROWS=1,8,64] [ITERATIONS=20]\n"
        + "       InferServer.Benchmarks encoder [--batches 1,8,64] [--repeats N] [--threads N] [--model DIR] [--encoder-batch-tokens N] [--no-grpc] [--onnx-spinning] [--quick]\n"
        + "       InferServer.Benchmarks merge [--model demo|large] [--concurrency 8,64] [--tokens N] [--prompt N] [--repeats N] [--waves N]\n"
        + "       InferServer.Benchmarks peer [--quick] [--concurrency 1,8,64] [--tokens N] [--prompt N] [--repeats N] [--threads N] [--check N] [--cache DIR] [--chart DIR]\n"
        + "       InferServer.Benchmarks profile [ROWS=1,8,64] [ITERATIONS=20] | profile linear [ROWS=1,2,4,8,16] [ITERATIONS=30]\n"
        + "       InferServer.Benchmarks profile stream [ROWS=1,2,4,8,12,16,24,32,48,64] [ITERATIONS=7] [--tiles ROWS:WEIGHT_ROWS,...] [--fallback]\n"
        + "       InferServer.Benchmarks structured [ROWS=1,8,64] [STEPS=48]\n"
        + "       InferServer.Benchmarks constrained-ratio [--model large|medium|demo] [--concurrency 64] [--tokens 16] [--prompt 16] [--repeats 3] [--threads N]");
    return 2;
}
