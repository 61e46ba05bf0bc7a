#!/usr/bin/env bash
# The long soak (issue 14): starts InferServer on the soak model (the demo Llama, 100 tenant adapters, 3 broken ones)
# on loopback and runs `inferserver-loadgen soak` against it for --minutes N (default 10). The first line printed is
#   soak: requests=N cancelled=N deadline=N unloads=N lost=0 wrong=0 leaked=0
# and the exit code is 0 only when every invariant held (loadtest/README.md, "Soak"). Other options go to the driver,
# e.g. --seed 7 --concurrency 16. Server log: artifacts/soak/server.log.
# --batch-invariant starts the server with Engine:BatchInvariant=true and has the driver send seeded sampled calls
# (--seeded), whose answers under load must then equal the solo ones bit for bit (issue 28).
#   scripts/soak.sh --minutes 10 [--tenants 100] [--no-build] [--batch-invariant] [driver options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

minutes=10; tenants=100; build=1; driver=(); invariant=false
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --tenants) tenants="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --batch-invariant) invariant=true; driver+=(--seeded); shift ;;
    *) driver+=("$1"); shift ;;
  esac
done

grpc_port=${SOAK_GRPC_PORT:-50161}; http_port=${SOAK_HTTP_PORT:-50162}; openai_port=${SOAK_OPENAI_PORT:-50163}
models=${SOAK_MODELS:-/tmp/inferserver-soak-model}
admin_key="soak-admin-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
artifacts=artifacts/soak; mkdir -p "$artifacts"

if [ $build -eq 1 ]; then
  dotnet build -c Release src/Server/InferServer.Server.csproj -v q -nologo
  dotnet build -c Release loadtest/InferServer.LoadGen/InferServer.LoadGen.csproj -v q -nologo
fi
lg="dotnet loadtest/InferServer.LoadGen/bin/Release/net10.0/inferserver-loadgen.dll"
[ -d "$models/base" ] || $lg make-soak-model --tenants "$tenants" "$models"

# A small queue and batch, so that bursts really go past Engine:MaxQueuedRequests and are refused; prefix caching on,
# so multi-turn conversations reuse their first turn's KV blocks. MALLOC_ARENA_MAX as
# in the Dockerfile: the server runs as it ships.
MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} \
Security__AdminApiKeys__0="$admin_key" \
Engine__MaxQueuedRequests=16 Engine__MaxBatchRows=16 Engine__PrefixCaching=true Engine__BatchInvariant=$invariant \
Adapters__AdapterRoots__1="$models/broken" \
  dotnet src/Server/bin/Release/net10.0/inferserver.dll --model "$models/base" --adapters "$models/base/adapters" \
    --host 127.0.0.1 --port "$grpc_port" --http-port "$http_port" --openai-port "$openai_port" > "$artifacts/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT

$lg wait-health --target "http://127.0.0.1:$grpc_port" --timeout 300
status=0
# --server-pid: the driver induces a full GC in the server before each RSS reading, so both see the same heap state.
$lg soak --admin-key "$admin_key" --minutes "$minutes" --server-pid "$server" \
  --target "http://127.0.0.1:$grpc_port" --openai "http://127.0.0.1:$openai_port" --metrics "http://127.0.0.1:$http_port" \
  "${driver[@]}" || status=$?
exit $status
