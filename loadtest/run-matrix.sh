#!/usr/bin/env bash
# Builds Release, serves a random model on loopback, runs the scenario matrix with the C# load generator, and writes
# docs/benchmarks/loadtest-<model>.md. Every run is bounded by a request count and a duration. See loadtest/README.md.
#
#   loadtest/run-matrix.sh [--model demo|large] [--port 50151]
#
# Environment: LOADTEST_MODELS (where models are generated, default /tmp/inferserver-loadtest-models),
# LOADTEST_RESULTS (raw JSON per run, default artifacts/loadtest/<model>).
set -euo pipefail

model=demo
port=50151
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$model" in
  # Counts are sized so a whole matrix takes a few minutes on a 2-core machine.
  demo)  requests=48; concurrency=8; max_new=16; adapters=8;   coldwarm_offset=4;  coldwarm_adapters=4; open_rate=2;   run_seconds=120 ;;
  large) requests=24; concurrency=8; max_new=16; adapters=100; coldwarm_offset=90; coldwarm_adapters=6; open_rate=0.5; run_seconds=180 ;;
  *) echo "--model must be demo or large" >&2; exit 2 ;;
esac

repo="$(cd "$(dirname "$0")/.." && pwd)"
models="${LOADTEST_MODELS:-/tmp/inferserver-loadtest-models}/$model"
results="${LOADTEST_RESULTS:-$repo/artifacts/loadtest/$model}"
report="$repo/docs/benchmarks/loadtest-$model.md"
target="http://127.0.0.1:$port"
server="$repo/src/Server/bin/Release/net10.0/inferserver"
loadgen="$repo/loadtest/InferServer.LoadGen/bin/Release/net10.0/inferserver-loadgen"

echo "== build (Release)"
dotnet build "$repo/loadtest/InferServer.LoadGen" -c Release -v q -nologo

if [[ ! -f "$models/base/model.safetensors" ]]; then
  echo "== generate the $model model in $models"
  "$loadgen" make-model --preset "$model" --seed 1 "$models"
fi

rm -rf "$results"
mkdir -p "$results"
source "$repo/loadtest/server-lifecycle.sh"
matrix_server=(--Security:AllowUnauthenticatedAdmin=true --http-port 0)

run() {
  local name="$1"; shift
  "$loadgen" run --name "$name" --requests "$requests" --max-new-tokens "$max_new" --duration "$run_seconds" \
    --adapters "$adapters" --adapter-prefix tenant- --warmup 2 --json "$results/$name.json" "$@"
}

succeeded() { grep -o '"succeeded": [0-9]*' "$results/$1.json" | grep -o '[0-9]*$'; }

start_server merge-on "${matrix_server[@]}" --Adapters:MergeEnabled=true
# First, on a fresh server: adapters nobody has used yet, each twice in a row, one at a time.
run coldwarm --target "$target" --scenario coldwarm --concurrency 1 --adapter-offset "$coldwarm_offset" \
  --adapters "$coldwarm_adapters" --requests $((2 * coldwarm_adapters))
run base      --target "$target" --scenario base      --concurrency "$concurrency"
run identical --target "$target" --scenario identical --concurrency "$concurrency"
run uniform   --target "$target" --scenario uniform   --concurrency "$concurrency"
run zipf      --target "$target" --scenario zipf      --concurrency "$concurrency" --zipf-alpha 1.2
run distinct  --target "$target" --scenario distinct  --concurrency "$concurrency"
run naive     --target "$target" --scenario naive     --concurrency "$concurrency"
run unary-uniform --target "$target" --scenario uniform --concurrency "$concurrency" --kind generate
run base-open --target "$target" --scenario base --mode open --rate "$open_rate" --max-in-flight 64
run churn     --target "$target" --scenario uniform   --concurrency "$concurrency" --churn-interval-ms 500 --churn-adapters 4
stop_server

if [[ "$(succeeded identical)" -gt 0 ]]; then
  start_server merge-off "${matrix_server[@]}" --Adapters:MergeEnabled=false
  run zipf-nomerge --target "$target" --scenario zipf --concurrency "$concurrency" --zipf-alpha 1.2
  stop_server
else
  echo "== skip merge-off: no adapter request succeeded with merging on"
fi

# The server is stopped, so the in-process engine has the cores to itself as the server had.
run inprocess --in-process "$models/base" --scenario base --concurrency "$concurrency"

machine="$results/machine.md"
{
  echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores available ($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core)"
  echo "- Memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "- OS: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
  echo "- .NET SDK $(dotnet --version); TorchSharp CPU backend (libtorch-cpu-linux-x64), float32"
  echo "- Load average when the report was written: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared; other work competes for the cores)"
  echo "- Commit: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- src || echo ' (src modified)')"
} > "$machine"
notes="$results/notes.md"
{
  echo "- Model: \`make-model --preset $model --seed 1\` (the demo generator's seeded random weights: $model = DemoModelKind.$([[ $model == large ]] && echo LlamaLarge || echo Llama)), rank-16 q_proj/v_proj tenant adapters, $adapters in play."
  echo "- Each run: $requests requests (cold/warm: $((2 * coldwarm_adapters))), $max_new output tokens each (greedy, EOS ignored), 16-word prompts, closed loop at concurrency $concurrency unless noted, streaming GenerateStream unless noted; 2 unmeasured base warm-up requests first; at most ${run_seconds} s per run."
  echo "- base-open: Poisson arrivals at $open_rate/s. churn: uniform traffic while the admin API unloads and reloads one of 4 adapters every 500 ms."
  echo "- Each row is one run on a shared machine (see the load average above): repeat a run before trusting a small difference."
  echo "- Classify traffic is not in this matrix: the matrix serves a causal model (run the classify scenario against an encoder model, README)."
} > "$notes"
"$loadgen" report --results "$results" --model "$model" --machine "$machine" --notes "$notes" --out "$report"
