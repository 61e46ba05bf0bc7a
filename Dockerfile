# syntax=docker/dockerfile:1
# InferServer image. GPU (default):  docker build -t inferserver .
#                    CPU:            docker build -t inferserver:cpu --build-arg TORCH_BACKEND=cpu .
# Run:  docker run --gpus all -p 50051:50051 -p 50052:50052 -v /path/to/models:/models:ro inferserver
# (/models/base = a Hugging Face model directory, /models/adapters/<name> = PEFT adapters). See loadtest/README.md.

# cuda or cpu: selects TorchSharp-cuda-linux or TorchSharp + libtorch-cpu-linux-x64 (Directory.Build.props,
# src/Kernels/InferServer.Kernels.csproj) and the runtime stage below.
ARG TORCH_BACKEND=cuda
# The CUDA runtime the GPU image starts from; keep its major version equal to the CUDA that TorchSharp-cuda-linux's
# libtorch was built for (check the package's libtorch-cuda-* dependency when bumping TorchSharp).
ARG CUDA_RUNTIME_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG TORCH_BACKEND
WORKDIR /src
# Restore first, from the project files only, so source edits do not invalidate the (large) package layer.
COPY Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build/ build/
COPY src/Server/InferServer.Server.csproj src/Server/
COPY src/Engine/InferServer.Engine.csproj src/Engine/
COPY src/Demo/InferServer.Demo.csproj src/Demo/
COPY src/Protos/InferServer.Protos.csproj src/Protos/
COPY src/Kernels/InferServer.Kernels.csproj src/Kernels/
COPY src/AdapterStore/InferServer.AdapterStore.csproj src/AdapterStore/
COPY src/Safetensors/InferServer.Safetensors.csproj src/Safetensors/
COPY src/Jinja/InferServer.Jinja.csproj src/Jinja/
RUN dotnet restore src/Server -r linux-x64 -p:TorchBackend=${TORCH_BACKEND}
COPY protos/ protos/
COPY src/ src/
# Self-contained: the runtime images carry no .NET runtime. The SDK image is Ubuntu 24.04, whose libstdc++ is new
# enough, so the TorchSharp compat patch (Directory.Build.targets) finds nothing to do.
RUN dotnet publish src/Server -c Release -r linux-x64 --self-contained true --no-restore \
        -p:TorchBackend=${TORCH_BACKEND} -o /app

FROM ${CUDA_RUNTIME_IMAGE} AS runtime-cuda
ENV Engine__Device=cuda

# runtime-deps: the native dependencies of a self-contained .NET app (libc, libssl, ICU), nothing more.
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0 AS runtime-cpu
ENV Engine__Device=cpu

FROM runtime-${TORCH_BACKEND} AS runtime
RUN groupadd --system inferserver && useradd --system --gid inferserver --home-dir /app --no-create-home inferserver
WORKDIR /app
COPY --from=build --chown=root:root /app /app
# Listen on every interface inside the container (the server's default is loopback), models from /models; no
# configuration file watcher, since nothing in the image changes at run time. Two glibc malloc arenas: libtorch allocates
# from the engine thread and its intra-op threads, and one arena per thread (up to 8 per core) keeps freed native memory
# resident in each; the soak's RSS check runs with the same setting (scripts/soak.sh, docs/benchmarks.md "Soak").
ENV Api__Host=0.0.0.0 \
    MALLOC_ARENA_MAX=2 \
    Api__GrpcPort=50051 \
    Api__HttpPort=50052 \
    Engine__ModelPath=/models/base \
    Adapters__AdapterRoots__0=/models/adapters \
    DOTNET_hostBuilder__reloadConfigOnChange=false
USER inferserver
# 50051: gRPC (HTTP/2, cleartext). 50052: HTTP/1.1 /metrics and /healthz.
EXPOSE 50051 50052
# grpc.health.v1 through the server's own probe subcommand (reads Api__GrpcPort); loading a model takes a while.
HEALTHCHECK --interval=15s --timeout=10s --start-period=120s --retries=3 CMD ["/app/inferserver", "healthcheck"]
ENTRYPOINT ["/app/inferserver"]
