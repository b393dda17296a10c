#!/usr/bin/env bash
# Stop the cluster deploy/local/start.sh started in OUT: SIGTERM to each node, one at a time (each leaves the cluster
# through CoordinatedShutdown), then wait. The coordinator's node goes first: it finishes its round, evaluates,
# checkpoints and writes its summary while every member is still there; the workers then leave an idle cluster.
#   deploy/local/stop.sh OUT [seconds to wait per node, default 60]
set -euo pipefail
OUT="${1:?usage: deploy/local/stop.sh OUT [timeout-seconds]}"
WAIT="${2:-60}"
[ -d "$OUT/pids" ] || { echo "deploy/local/stop.sh: no $OUT/pids (was the cluster started with deploy/local/start.sh?)" >&2; exit 2; }
# The coordinator first (stopping workers first made the training lose its members, roll back and, busy recovering,
# outlive the wait without a summary), then the workers.
for file in $(ls "$OUT"/pids/coordinator.pid 2>/dev/null; ls "$OUT"/pids/*.pid 2>/dev/null | grep -v '/coordinator.pid$'); do
  name="$(basename "$file" .pid)"; pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 "$((WAIT * 10))"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then echo "$name (pid $pid) did not stop within ${WAIT}s: killing it" >&2; kill -KILL "$pid" || true; fi
    echo "$name stopped"
  fi
  rm -f "$file"
done
