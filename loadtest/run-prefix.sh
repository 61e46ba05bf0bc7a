#!/usr/bin/env bash
# Prefix caching on multi-turn chat (issue 24): paired rounds of the same conversations with Engine:PrefixCaching on and
# off, through the server (gRPC streaming). Prints
#   prefix-cache ttft-ratio off/on turn8=X throughput on/off=Y
# and writes docs/benchmarks/prefix-cache.md with a chart of TTFT by turn (raw JSON under artifacts/loadtest/prefix/).
#   loadtest/run-prefix.sh            full: medium model, 32 conversations, 8 adapters (Zipf 1.2), 1000-token system
#                                     prompts, 8 turns of 50 user + 64 generated tokens, 3 paired rounds
#   loadtest/run-prefix.sh --quick    the demo-preset model (512-token context): 16 conversations, 200-token system
#                                     prompts, 8 turns of 20 + 16 tokens, 3 paired rounds; about 1 minute after the build
set -euo pipefail

quick=0
rounds=""
port=50161
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --rounds) rounds="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
server="$repo/src/Server/bin/Release/net10.0/inferserver"
loadgen="$repo/loadtest/InferServer.LoadGen/bin/Release/net10.0/inferserver-loadgen"
if [[ $quick == 1 ]]; then
  preset=demo; vocabulary=50257; rounds="${rounds:-3}"; out="$repo/docs/benchmarks/prefix-cache-quick"
  scenario=(--conversations 16 --adapters 8 --system-tokens 200 --turns 8 --user-tokens 20 --max-new-tokens 16)
else
  preset=medium; vocabulary=32000; rounds="${rounds:-3}"; out="$repo/docs/benchmarks/prefix-cache"
  scenario=(--conversations 32 --adapters 8 --system-tokens 1000 --turns 8 --user-tokens 50 --max-new-tokens 64)
fi
models="${PREFIX_MODELS:-/tmp/inferserver-prefix-models}/$preset"
results="${PREFIX_RESULTS:-$repo/artifacts/loadtest/prefix}/$preset"

echo "== build (Release)"
dotnet build "$repo/loadtest/InferServer.LoadGen" -c Release -v q -nologo
dotnet build "$repo/src/Server" -c Release -v q -nologo
if [[ ! -f "$models/base/model.safetensors" ]]; then
  "$loadgen" make-model --preset "$preset" --seed 1 --adapters 8 --ranks 16 --adapter-prefix tenant- "$models"
fi
rm -rf "$results"
mkdir -p "$results"
source "$repo/loadtest/server-lifecycle.sh"

# Both settings in every round, their order alternating, so drift in machine load falls on both alike.
for round in $(seq 1 "$rounds"); do
  if (( round % 2 == 1 )); then order=(on off); else order=(off on); fi
  for label in "${order[@]}"; do
    caching=$([[ $label == on ]] && echo true || echo false)
    start_server "$label-$round" --http-port $((port + 1)) --Api:OpenAiPort=-1 --Engine:PrefixCaching=$caching \
      --Engine:MaxBatchRows=64 --Adapters:DeviceSlots=8 --Adapters:MergeEnabled=false
    "$loadgen" multiturn --target "http://127.0.0.1:$port" --label "$label" --round "$round" --vocabulary "$vocabulary" \
      "${scenario[@]}" --json "$results/multiturn-$label-$round.json"
    stop_server
  done
done

"$loadgen" multiturn-report --results "$results" --out "$out"
