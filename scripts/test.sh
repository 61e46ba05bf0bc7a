#!/usr/bin/env bash
# Runs the whole test suite in Release and ends with the totals on one line: "N passed, N failed".
# Everything it needs beyond the .NET 10 SDK (patchelf and g++ for TorchSharp on Debian 12) the build
# installs or names itself (build/torchsharp-compat/patch-libtorchsharp.sh).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v dotnet >/dev/null; then
  echo "error: the .NET 10 SDK is required ('dotnet' is not on PATH): https://dot.net/download" >&2
  exit 1
fi

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
# Build everything first, then run the test projects without building: a test project that references another
# (the server's tests use the engine's fixtures) would otherwise wait for that project's whole test run, since MSBuild
# hands a referenced project's build over only when its request, tests included, is done.
args=()
for arg in "$@"; do [ "$arg" = "--no-build" ] || args+=("$arg"); done
if ! dotnet build InferServer.sln -c Release -nologo; then
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
dotnet test InferServer.sln -c Release --no-build --logger "trx" --results-directory "$results" "${args[@]}"
status=$?

passed=0; failed=0; skipped=0
for report in "$results"/*.trx; do
  [ -f "$report" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$report")
  count() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  passed=$((passed + $(count passed)))
  failed=$((failed + $(count failed) + $(count error) + $(count timeout) + $(count aborted)))
  # A skipped test is in "total" but not "executed" (the trx counter notExecuted stays 0 for xUnit's skips).
  skipped=$((skipped + $(count total) - $(count executed)))
done
# A build error or a crashed test host leaves no report: count it as a failure, never as a pass.
if [ $status -ne 0 ] && [ $failed -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
