#!/usr/bin/env bash
# Kill one node of a deploy/local/start.sh cluster with SIGKILL (no goodbye to the cluster): a fault drill. The
# split-brain resolver downs it after akka.cluster.split-brain-resolver.stable-after, and the run carries on.
#   deploy/local/kill.sh OUT NODE        e.g. deploy/local/kill.sh runs/x discriminator-1
set -euo pipefail
OUT="${1:?usage: deploy/local/kill.sh OUT NODE}"
NODE="${2:?usage: deploy/local/kill.sh OUT NODE (one of: $(ls "$OUT/pids" 2>/dev/null | sed 's/\.pid$//' | tr '\n' ' '))}"
file="$OUT/pids/$NODE.pid"
[ -f "$file" ] || { echo "deploy/local/kill.sh: no node '$NODE' in $OUT/pids (nodes: $(ls "$OUT/pids" 2>/dev/null | sed 's/\.pid$//' | tr '\n' ' '))" >&2; exit 2; }
pid="$(cat "$file")"
kill -KILL "$pid" && echo "$NODE (pid $pid) killed at $(date +%T)"
rm -f "$file"
