#!/usr/bin/env bash
# One training on a local multi-process cluster: a coordinator+generator node and N discriminator nodes, each its own
# `akkagan node` process on one host (127.0.0.1 by default), joined over Akka.Remote. The coordinator's node runs in
# the foreground (progress, summary) and writes the run's outputs; the discriminator nodes log to files and leave the
# cluster (SIGTERM -> CoordinatedShutdown) when the training ends or this script is interrupted.
#
#   deploy/local/run.sh [training flags...]        e.g. deploy/local/run.sh --rounds 1000 --discriminators 2
#
# Environment (the Docker and Kubernetes deployments use the same names):
#   AKKAGAN_HOST                 address every node listens on            (default 127.0.0.1)
#   AKKAGAN_SEED_PORT            port of the coordinator node, the seed   (default 4053)
#   AKKAGAN_CONTROL_PORT         control port of the coordinator node; discriminator node i gets this + i (default 9120;
#                                0: every node takes a free port and logs it)
#   AKKAGAN_DISCRIMINATOR_NODES  discriminator processes to start         (default 2)
#   AKKAGAN_CONFIG               HOCON file given to every node           (default: none, the built-in cluster.hocon)
#   AKKAGAN_OUT                  the run's output folder                  (default runs/<time>-local)
#   AKKAGAN_CMD                  how to start akkagan                     (default: dotnet <repo>/src/AkkaGan.Node/bin/Release/net10.0/akkagan.dll)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HOST="${AKKAGAN_HOST:-127.0.0.1}"
SEED_PORT="${AKKAGAN_SEED_PORT:-4053}"
CONTROL_PORT="${AKKAGAN_CONTROL_PORT:-9120}"
NODES="${AKKAGAN_DISCRIMINATOR_NODES:-2}"
OUT="${AKKAGAN_OUT:-runs/$(date +%Y%m%d-%H%M%S)-local}"
LOGS="$OUT/logs"

if [ -z "${AKKAGAN_CMD:-}" ]; then
  DLL="$ROOT/src/AkkaGan.Node/bin/Release/net10.0/akkagan.dll"
  [ -f "$DLL" ] || "$ROOT/build.sh" build
  AKKAGAN_CMD="dotnet $DLL"
fi
case "$NODES" in ''|*[!0-9]*|0) echo "deploy/local/run.sh: AKKAGAN_DISCRIMINATOR_NODES must be a positive number, got '$NODES'" >&2; exit 2 ;; esac
config=()
if [ -n "${AKKAGAN_CONFIG:-}" ]; then config=(--config "$AKKAGAN_CONFIG"); fi

mkdir -p "$LOGS"
waiter=""
stop_workers() {
  if [ -n "$waiter" ]; then kill "$waiter" 2>/dev/null || true; wait "$waiter" 2>/dev/null || true; waiter=""; fi
  # One at a time: each leaves the cluster (CoordinatedShutdown) while the others can still confirm its exit.
  for file in "$LOGS"/discriminator-*.pid; do
    [ -f "$file" ] || continue
    pid="$(cat "$file")"
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    rm -f "$file"
  done
}
trap stop_workers EXIT
trap 'exit 130' INT TERM

# The discriminator nodes start once the seed (the coordinator's node, in the foreground below) listens, so they
# join at once instead of retrying the seed 10 s later.
rm -f "$LOGS"/discriminator-*.pid
(
  until (exec 3<>"/dev/tcp/$HOST/$SEED_PORT") 2>/dev/null; do
    kill -0 $$ 2>/dev/null || exit 0   # the coordinator's node never came up and the script ended
    sleep 0.2
  done
  for i in $(seq 1 "$NODES"); do
    control_port=$(( CONTROL_PORT == 0 ? 0 : CONTROL_PORT + i ))   # 0: every node takes a free port
    # Port 0: each discriminator node takes a free port; only the seed needs a known one.
    $AKKAGAN_CMD node --roles discriminator --host "$HOST" --port 0 --seeds "$HOST:$SEED_PORT" \
      --control-port "$control_port" "${config[@]}" \
      > "$LOGS/discriminator-$i.log" 2>&1 &
    echo "$!" > "$LOGS/discriminator-$i.pid"
    echo "discriminator node $i: pid $!, log $LOGS/discriminator-$i.log, control port $control_port"
  done
) &
waiter="$!"

set +e
$AKKAGAN_CMD node --roles coordinator,generator --host "$HOST" --port "$SEED_PORT" --seeds "$HOST:$SEED_PORT" \
  --discriminator-nodes "$NODES" --control-port "$CONTROL_PORT" --out "$OUT" "${config[@]}" "$@" 2>&1 | tee "$LOGS/coordinator.log"
code="${PIPESTATUS[0]}"
set -e
stop_workers
exit "$code"
