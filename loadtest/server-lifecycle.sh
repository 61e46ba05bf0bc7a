# Sourced by run-matrix.sh and run-scale.sh: one server at a time, started from an empty working directory and
# stopped (drained) before the next, whatever way the script ends.
# Needs: $server (the inferserver binary), $loadgen, $models (base/ with adapters/), $results, $port.
# The server's content root is its working directory, and its configuration reload watches that tree: start it from
# an empty directory so it does not crawl the repository (or /tmp).
workdir="$(mktemp -d)"
server_pid=""

stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    # Bounded wait for the drain (Api:DrainTimeout is 30 s by default).
    for _ in $(seq 1 60); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
  fi
  server_pid=""
}
trap 'stop_server; rm -rf "$workdir"' EXIT

# start_server LABEL [server options…]: serves $models/base and its adapters on $port, logs to $results/server-LABEL.log,
# and returns once gRPC health says SERVING.
start_server() {
  local label="$1"; shift
  echo "== start the server ($label: $*)"
  (cd "$workdir" && exec "$server" --model "$models/base" --adapters "$models/base/adapters" --port "$port" \
      "$@" > "$results/server-$label.log" 2>&1) &
  server_pid=$!
  "$loadgen" wait-health --target "http://127.0.0.1:$port" --timeout 300
}
