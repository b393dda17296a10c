#!/usr/bin/env bash
# Start a local multi-process cluster in the background and return: a coordinator node (with `--roles` from
# AKKAGAN_COORDINATOR_ROLES, default coordinator,generator; it trains with the flags given here) and N discriminator
# nodes, each an `akkagan node` process on this host. PIDs go to <out>/pids/<node>.pid, logs to <out>/logs/<node>.log.
# deploy/local/stop.sh stops them (gracefully), deploy/local/kill.sh NODE kills one with SIGKILL (fault drills); once
# the coordinator's node exits, the others are stopped too.
#
#   deploy/local/start.sh [training flags...]
#
# Environment: as deploy/local/run.sh (AKKAGAN_HOST, AKKAGAN_SEED_PORT, AKKAGAN_CONTROL_PORT,
# AKKAGAN_DISCRIMINATOR_NODES, AKKAGAN_CONFIG, AKKAGAN_OUT, AKKAGAN_CMD), plus AKKAGAN_COORDINATOR_ROLES,
# AKKAGAN_GENERATOR_NODES (extra generator-only nodes standing by; default 0) and AKKAGAN_KEEP_NODES (1: the other
# nodes keep running when the coordinator's node exits; default 0).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HOST="${AKKAGAN_HOST:-127.0.0.1}"
SEED_PORT="${AKKAGAN_SEED_PORT:-4053}"
CONTROL_PORT="${AKKAGAN_CONTROL_PORT:-9120}"
NODES="${AKKAGAN_DISCRIMINATOR_NODES:-2}"
GENERATORS="${AKKAGAN_GENERATOR_NODES:-0}"
ROLES="${AKKAGAN_COORDINATOR_ROLES:-coordinator,generator}"
OUT="${AKKAGAN_OUT:-runs/$(date +%Y%m%d-%H%M%S)-local}"
case "$NODES" in ''|*[!0-9]*|0) echo "deploy/local/start.sh: AKKAGAN_DISCRIMINATOR_NODES must be a positive number, got '$NODES'" >&2; exit 2 ;; esac
case "$GENERATORS" in ''|*[!0-9]*) echo "deploy/local/start.sh: AKKAGAN_GENERATOR_NODES must be a number, got '$GENERATORS'" >&2; exit 2 ;; esac
if [ -z "${AKKAGAN_CMD:-}" ]; then
  DLL="$ROOT/src/AkkaGan.Node/bin/Release/net10.0/akkagan.dll"
  [ -f "$DLL" ] || "$ROOT/build.sh" build
  AKKAGAN_CMD="dotnet $DLL"
fi
config=()
if [ -n "${AKKAGAN_CONFIG:-}" ]; then config=(--config "$AKKAGAN_CONFIG"); fi
mkdir -p "$OUT/logs" "$OUT/pids"
if compgen -G "$OUT/pids/*.pid" > /dev/null; then
  echo "deploy/local/start.sh: $OUT/pids already holds a cluster; stop it first (deploy/local/stop.sh $OUT)" >&2; exit 2
fi

start_node() { # name, control port, args...
  local name="$1" port="$2"; shift 2
  $AKKAGAN_CMD node --host "$HOST" --control-port "$port" "${config[@]}" "$@" > "$OUT/logs/$name.log" 2>&1 &
  echo "$!" > "$OUT/pids/$name.pid"
  echo "$name: pid $!, control port $port, log $OUT/logs/$name.log"
}

start_node coordinator "$CONTROL_PORT" --roles "$ROLES" --port "$SEED_PORT" --seeds "$HOST:$SEED_PORT" \
  --discriminator-nodes "$NODES" --out "$OUT" "$@"
for i in $(seq 1 "$NODES"); do
  start_node "discriminator-$i" $(( CONTROL_PORT == 0 ? 0 : CONTROL_PORT + i )) --roles discriminator --port 0 --seeds "$HOST:$SEED_PORT"
done
for i in $(seq 1 "$GENERATORS"); do
  start_node "generator-$i" $(( CONTROL_PORT == 0 ? 0 : CONTROL_PORT + NODES + i )) --roles generator --port 0 --seeds "$HOST:$SEED_PORT"
done
# When the coordinator's node exits (its training ended, or it was stopped or killed), the other nodes leave too, as
# with run.sh: a finished cluster leaves no node running and no stale pid file. AKKAGAN_KEEP_NODES=1 keeps them (a
# standby coordinator started beside this cluster takes the run over when the coordinator's node is killed).
if [ "${AKKAGAN_KEEP_NODES:-0}" != 1 ]; then
  coordinator_pid="$(cat "$OUT/pids/coordinator.pid")"
  nohup bash -c "while kill -0 $coordinator_pid 2>/dev/null; do sleep 1; done; exec '$ROOT/deploy/local/stop.sh' '$OUT'" \
    < /dev/null > "$OUT/logs/stop-after-coordinator.log" 2>&1 &
  echo "started in $OUT; deploy/local/stop.sh $OUT stops the cluster (it also stops once the coordinator's node exits)"
else
  echo "started in $OUT; deploy/local/stop.sh $OUT stops the cluster"
fi
