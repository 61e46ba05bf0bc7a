#!/usr/bin/env bash
# Starts InferServer on the embedded demo model (generated on first use, deterministic) on 127.0.0.1.
# Extra arguments go to the server, e.g. --port 0 or --model /path/to/hf-model --adapters /path/to/adapters.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v dotnet >/dev/null; then
  echo "error: the .NET 10 SDK is required ('dotnet' is not on PATH): https://dot.net/download" >&2
  exit 1
fi
exec dotnet run -c Release --project src/Server -- "$@"
