#!/usr/bin/env bash
# The scaling benchmark (issue 16): serves the medium Llama with thousands of registered adapters on loopback, runs
# `inferserver-loadgen scale` (cells paired within rounds) for rank-16 adapters and for mixed ranks 8-64, and writes
# docs/benchmarks/scale.md with its SVG charts through `inferserver-loadgen scale-report`. See loadtest/README.md.
#
#   loadtest/run-scale.sh [--rounds 3] [--requests 256] [--counts 5,50,500,1000,2000] [--merge-json FILE] [--port 50151]
#   loadtest/run-scale.sh --quick [--rounds 3] [--requests 128]
#
# --quick measures only what `scale-ratio adapters=1000/5` needs: closed loop, Zipf 1.2, 5 and 1,000 adapters, no open
# loop, cold stream or mixed-rank server; it writes its report under $SCALE_RESULTS/quick/ (not docs/) and prints the line.
# Environment: SCALE_MODELS (generated model and adapters, default /tmp/inferserver-scale-models),
# SCALE_RESULTS (raw JSON and server logs, default artifacts/loadtest/scale).
set -euo pipefail

rounds=3
requests=256
counts=5,50,500,1000,2000
merge_json=""
port=50151
quick=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=true; counts=5,1000; requests=128; shift ;;
    --rounds) rounds="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --counts) counts="$2"; shift 2 ;;
    --merge-json) merge_json="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
models="${SCALE_MODELS:-/tmp/inferserver-scale-models}"
results="${SCALE_RESULTS:-$repo/artifacts/loadtest/scale}"
server="$repo/src/Server/bin/Release/net10.0/inferserver"
loadgen="$repo/loadtest/InferServer.LoadGen/bin/Release/net10.0/inferserver-loadgen"
metrics_port=$((port + 1))
largest="${counts##*,}"
# The cold-stream cells name each cold adapter once: rounds x 10/s x 20 s of them, plus the calibration margin.
cold=$((rounds * 200 + 200))

echo "== build (Release)"
# The server too: a stale binary would measure old code.
dotnet build "$repo/src/Server" -c Release -v q -nologo
dotnet build "$repo/loadtest/InferServer.LoadGen" -c Release -v q -nologo

echo "== load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ ! -f "$models/base/model.safetensors" ]]; then
  "$loadgen" make-model --preset medium --seed 1 --adapters "$largest" --ranks 16 --adapter-prefix tenant- "$models"
fi
if [[ ! -d "$models/base/adapters/tenant-$(printf %03d $((largest - 1)))" ]]; then
  "$loadgen" make-model --preset medium --seed 1 --adapters-only --adapters "$largest" --ranks 16 --adapter-prefix tenant- "$models"
fi
if [[ "$quick" == false && ! -d "$models/base/adapters/mixed-999" ]]; then
  "$loadgen" make-model --preset medium --seed 1 --adapters-only --adapters 1000 --ranks 8,16,32,64 --adapter-prefix mixed- "$models"
fi
# More rounds need more never-read adapters; the side stream of round r names cold-(r*200)… (inferserver-loadgen scale).
if [[ "$quick" == false && ! -d "$models/base/adapters/cold-$(printf %03d $((cold - 1)))" ]]; then
  "$loadgen" make-model --preset medium --seed 1 --adapters-only --adapters "$cold" --ranks 16 --adapter-prefix cold- "$models"
fi

mkdir -p "$results"
source "$repo/loadtest/server-lifecycle.sh"
# Device slots at the server's default: one per row a step holds (64, issue 24; the server log's "Device slots:" line
# says so), fewer than the adapters in play from 500 on, so slots are rewritten while serving, but never so few that a
# step's adapters cannot all be resident. Host memory holds every adapter once read (S-LoRA keeps all adapters in main
# memory), so the cold cells are the only disk reads.
scale_server=(--http-port "$metrics_port" --Api:OpenAiPort=-1 --Engine:MaxBatchRows=64
  --Adapters:HostMaxAdapters=8192 --Adapters:HostMaxBytes=17179869184)

common=(--target "http://127.0.0.1:$port" --metrics "http://127.0.0.1:$metrics_port/metrics" --rounds "$rounds" --requests "$requests")

if [[ "$quick" == true ]]; then
  start_server quick "${scale_server[@]}" --Adapters:MaxRank=16
  grep -o 'Device slots: [0-9]* ([a-z]*' "$results/server-quick.log" || true
  "$loadgen" scale "${common[@]}" --adapter-counts "$counts" --mixes zipf --open-counts "" \
    --adapter-prefix tenant- --json "$results/quick/scale-rank16.json"
  stop_server
  "$loadgen" scale-report --scale "$results/quick/scale-rank16.json" --out "$results/quick/scale"
  echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  grep -h '^scale-ratio' "$results/quick/scale.md"
  exit 0
fi

start_server rank16 "${scale_server[@]}" --Adapters:MaxRank=16
"$loadgen" scale "${common[@]}" --adapter-counts "$counts" --mixes uniform,zipf --open-counts "5,$largest" \
  --adapter-prefix tenant- --cold-prefix cold- --cold-rate 10 --stream-seconds 20 --json "$results/scale-rank16.json"
stop_server

start_server mixed "${scale_server[@]}" --Adapters:MaxRank=64
"$loadgen" scale "${common[@]}" --adapter-counts "5,50,500,1000" --mixes zipf --open-counts "" \
  --adapter-prefix mixed- --json "$results/scale-mixed.json"
stop_server

"$loadgen" scale-report --scale "$results/scale-rank16.json" --mixed "$results/scale-mixed.json" \
  ${merge_json:+--merge "$merge_json"} --out "$repo/docs/benchmarks/scale"
