#!/usr/bin/env bash
# Fault drills on this machine, with the default fault settings (cluster.hocon), each on a fresh local cluster
# (deploy/local/start.sh: a coordinator node and two discriminator nodes, 2 members), then a table:
#   fast         kill -9 of the node running d-0 (recovery = fast): detected, training resumed, d-0 back, what it lost
#   exact        the same with --recovery exact, on a run of fixed length: rounds redone, and whether the final
#                checkpoint's entity sections equal the reference engine's uninterrupted run byte for byte
#   coordinator  kill -9 of the coordinator's node with a standby (shared SQLite store): the standby takes over
#   finish       a normal finish with a standby: the standby's exit (code 0) after the run ended
#   stop         deploy/local/stop.sh during training: its duration, summary.json and a final checkpoint
#   busy-port    a second node on the running cluster's Akka port: its exit code and time, naming the port
#
#   deploy/local/drill.sh [OUT] [drill ...]      default OUT runs/drill-<time>, default every drill
#
# Times are measured by this script polling the nodes' logs every 0.1 s, from the moment of the kill (or stop).
# Environment: AKKAGAN_CMD (default: dotnet on the Release build), AKKAGAN_DRILL_FLAGS (training flags; default
# "--batch 64 --unroll 0 --lr-decay none --eval-every 100000 --checkpoint-every 100").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-runs/drill-$(date +%Y%m%d-%H%M%S)}"
shift || true
DRILLS=("$@")
[ ${#DRILLS[@]} -gt 0 ] || DRILLS=(fast exact coordinator finish stop busy-port)
for d in "${DRILLS[@]}"; do
  case "$d" in fast|exact|coordinator|finish|stop|busy-port) ;; *) echo "deploy/local/drill.sh: unknown drill '$d' (fast, exact, coordinator, finish, stop, busy-port)" >&2; exit 2 ;; esac
done
if [ -z "${AKKAGAN_CMD:-}" ]; then
  DLL="$ROOT/src/AkkaGan.Node/bin/Release/net10.0/akkagan.dll"
  [ -f "$DLL" ] || "$ROOT/build.sh" build
  export AKKAGAN_CMD="dotnet $DLL"
fi
read -r -a FLAGS <<< "${AKKAGAN_DRILL_FLAGS:---batch 64 --unroll 0 --lr-decay none --eval-every 100000 --checkpoint-every 100}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
export CI=true AKKAGAN_CONTROL_PORT=0
ROWS=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f s", b - a }'; }
# wait_for FILE REGEX [SECONDS]: polls until a line matches; prints the match's time (epoch) or fails the drill.
wait_for() {
  local file="$1" pattern="$2" limit="${3:-180}" start; start="$(now)"
  while ! grep -Eq -- "$pattern" "$file" 2>/dev/null; do
    if awk -v a="$start" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
      echo "deploy/local/drill.sh: no '$pattern' in $file within ${limit}s" >&2; return 1
    fi
    sleep 0.1
  done
  now
}
wait_exit() { # pid seconds -> time of exit
  local pid="$1" limit="$2" i
  for i in $(seq 1 $((limit * 10))); do kill -0 "$pid" 2>/dev/null || { now; return 0; }; sleep 0.1; done
  echo "deploy/local/drill.sh: pid $pid still running after ${limit}s" >&2; return 1
}
# The discriminator node that runs d-0, from the coordinator's placement line.
victim_of() {
  local dir="$1" address i
  address="$(grep -Eo 'd-0 @ [^ ,]+' "$dir/logs/coordinator.log" | tail -1 | sed 's/d-0 @ //')"
  for i in 1 2; do grep -q "akkagan node $address:" "$dir/logs/discriminator-$i.log" && { echo "discriminator-$i"; return; }; done
  echo "deploy/local/drill.sh: no discriminator node runs d-0 ($address)" >&2; return 1
}
start_cluster() { # dir seed-port training flags...
  local dir="$1" port="$2"; shift 2
  AKKAGAN_OUT="$dir" AKKAGAN_SEED_PORT="$port" "$ROOT/deploy/local/start.sh" --discriminators 2 "${FLAGS[@]}" "$@" > /dev/null
}
row() { ROWS+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$@")"); echo "drill: $1 done" >&2; }

drill_fast() {
  local dir="$OUT/fast" port t0 detected resumed back lost victim stop0 stopped last
  port="$(free_port)"
  start_cluster "$dir" "$port" --rounds 100000000
  wait_for "$dir/logs/coordinator.log" 'round [0-9]+: checkpoint' > /dev/null
  victim="$(victim_of "$dir")"
  "$ROOT/deploy/local/kill.sh" "$dir" "$victim" > /dev/null; t0="$(now)"
  detected="$(wait_for "$dir/logs/coordinator.log" 'd-0 unreachable')"
  resumed="$(wait_for "$dir/logs/coordinator.log" 'd-0 suspended')"
  back="$(wait_for "$dir/logs/coordinator.log" 'd-0 recovered')"
  lost="$(grep -Eo 'd-0 recovered: .*' "$dir/logs/coordinator.log" | grep -Eo 'nothing it learned is lost|[0-9]+ round\(s\), [0-9]+ optimizer step\(s\)' | head -1)"
  row "fast: kill -9 of d-0's node" "$(since "$t0" "$detected")" "$(since "$t0" "$resumed")" "d-0 back at $(since "$t0" "$back")" \
      "d-0 lost ${lost:-?}; the others none" "run goes on (not equal to an uninterrupted run)"
  if [[ " ${DRILLS[*]} " == *" busy-port "* ]]; then
    local b0 code message
    b0="$(now)"; set +e
    $AKKAGAN_CMD node --roles discriminator --port "$port" --seeds "127.0.0.1:$port" --control-port 0 > /dev/null 2> "$dir/logs/busy-port.log"; code=$?
    set -e
    message="$(grep -m1 'error' "$dir/logs/busy-port.log" || head -1 "$dir/logs/busy-port.log")"
    row "busy-port: a node on the Akka port $port" "-" "-" "exit $code after $(since "$b0" "$(now)")" "-" "${message#akkagan: error: }"
  fi
  if [[ " ${DRILLS[*]} " == *" stop "* ]]; then
    stop0="$(now)"; "$ROOT/deploy/local/stop.sh" "$dir" > /dev/null; stopped="$(now)"
    last="$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["last_checkpoint"], s["rounds"])' "$dir/summary.json" 2>/dev/null || echo "no summary.json")"
    row "stop: deploy/local/stop.sh while training" "-" "-" "all nodes ended after $(since "$stop0" "$stopped")" "-" "summary.json and final checkpoint: $last"
  else
    "$ROOT/deploy/local/stop.sh" "$dir" > /dev/null
  fi
}

# The bytes after the metadata of a checkpoint file (its entity sections), hashed: equal hashes, equal states.
entities_hash() {
  python3 - "$1" <<'PY'
import hashlib, struct, sys
data = open(sys.argv[1], "rb").read()
version = struct.unpack_from("<i", data, 8)[0]
body = data[20:-32]
def string(at):
    n, shift = 0, 0
    while True:
        b = body[at]; at += 1; n |= (b & 0x7F) << shift; shift += 7
        if b < 0x80: return at + n
at = string(string(16)) + 8          # round, seed, settings, engine, created
if version >= 2:
    count = struct.unpack_from("<i", body, at)[0]; at += 4
    for _ in range(count): at = string(at) + 8
print(hashlib.sha256(body[at:]).hexdigest())
PY
}

drill_exact() {
  local dir="$OUT/exact" port t0 detected resumed redone victim rounds=3000 mine reference
  port="$(free_port)"
  start_cluster "$dir" "$port" --rounds "$rounds" --recovery exact
  wait_for "$dir/logs/coordinator.log" 'round [0-9]+: checkpoint' > /dev/null
  victim="$(victim_of "$dir")"
  local placements; placements="$(grep -Ec 'placement: .*d-0 @' "$dir/logs/coordinator.log" || true)"
  "$ROOT/deploy/local/kill.sh" "$dir" "$victim" > /dev/null; t0="$(now)"
  detected="$(wait_for "$dir/logs/coordinator.log" 'd-0 unreachable')"
  wait_for "$dir/logs/coordinator.log" 'rolled-back' > /dev/null
  # Training resumes once the roll-back placed d-0 on the surviving node (a placement line after those before the kill).
  while [ "$(grep -Ec 'placement: .*d-0 @' "$dir/logs/coordinator.log" || true)" -le "$placements" ]; do
    awk -v a="$t0" -v b="$(now)" 'BEGIN { exit !(b - a > 300) }' && { echo "deploy/local/drill.sh: d-0 not placed again within 300 s" >&2; return 1; }
    sleep 0.1
  done
  resumed="$(now)"
  redone="$(grep -Eo '[0-9]+ round\(s\) are redone' "$dir/logs/coordinator.log" | head -1)"
  # The run ends by itself; its pid file is gone once it has (start.sh's watcher stops the other nodes then).
  if [ -f "$dir/pids/coordinator.pid" ]; then wait_exit "$(cat "$dir/pids/coordinator.pid")" 600 > /dev/null || true; fi
  "$ROOT/deploy/local/stop.sh" "$dir" > /dev/null 2>&1 || true
  $AKKAGAN_CMD train --engine reference --discriminators 2 "${FLAGS[@]}" --rounds "$rounds" --out "$OUT/exact-reference" > "$OUT/exact-reference.log" 2>&1
  mine="$(entities_hash "$(ls "$dir"/checkpoints/*.akgc | sort | tail -1)")"
  reference="$(entities_hash "$(ls "$OUT"/exact-reference/checkpoints/*.akgc | sort | tail -1)")"
  row "exact: kill -9 of d-0's node, --recovery exact" "$(since "$t0" "$detected")" "$(since "$t0" "$resumed")" "run completed" "${redone:-?} by everyone" \
      "$([ "$mine" = "$reference" ] && echo "final entity sections equal the uninterrupted run's" || echo "final entity sections DIFFER from the uninterrupted run's")"
}

standby_config() { # dir run-id
  printf 'akkagan.persistence { connection-string = "Data Source=%s/shared.db", run-id = "%s" }\n' "$1" "$2" > "$1/store.hocon"
  echo "$1/store.hocon"
}

drill_coordinator() {
  local dir="$OUT/coordinator" port config t0 detected taken first standby_pid
  mkdir -p "$dir"; port="$(free_port)"; config="$(standby_config "$dir" drill-coordinator)"
  AKKAGAN_CONFIG="$config" AKKAGAN_KEEP_NODES=1 start_cluster "$dir" "$port" --rounds 100000000
  $AKKAGAN_CMD node --roles coordinator,generator --standby --port 0 --seeds "127.0.0.1:$port" --control-port 0 --config "$config" --out "$dir/standby" > "$dir/logs/standby.log" 2>&1 &
  standby_pid=$!
  wait_for "$dir/logs/standby.log" 'standby: the coordinator runs on' > /dev/null
  wait_for "$dir/logs/coordinator.log" 'round [0-9]+: checkpoint' > /dev/null
  "$ROOT/deploy/local/kill.sh" "$dir" coordinator > /dev/null; t0="$(now)"
  detected="$(wait_for "$dir/logs/standby.log" 'taking the coordinator over')"
  first="$(wait_for "$dir/logs/standby.log" 'round [0-9]+: checkpoint' 300)"
  kill -TERM "$standby_pid"; wait_exit "$standby_pid" 120 > /dev/null || true
  "$ROOT/deploy/local/stop.sh" "$dir" > /dev/null 2>&1 || true
  taken="$(grep -Eo 'continues from the state store.s position of round [0-9]+' "$dir/logs/standby.log" | head -1 | grep -Eo '[0-9]+$')"
  row "coordinator: kill -9 of the coordinator's node, a standby" "took over at $(since "$t0" "$detected")" "first checkpoint at $(since "$t0" "$first")" \
      "standby trains the run" "rounds after round ${taken:-?} are redone" "run goes on from the stored position"
}

drill_finish() {
  local dir="$OUT/finish" port config ended gone standby_pid code
  mkdir -p "$dir"; port="$(free_port)"; config="$(standby_config "$dir" drill-finish)"
  AKKAGAN_CONFIG="$config" start_cluster "$dir" "$port" --rounds 3000
  $AKKAGAN_CMD node --roles coordinator,generator --standby --port 0 --seeds "127.0.0.1:$port" --control-port 0 --config "$config" --out "$dir/standby" > "$dir/logs/standby.log" 2>&1 &
  standby_pid=$!
  wait_for "$dir/logs/standby.log" 'standby: the coordinator runs on' > /dev/null
  ended="$(wait_exit "$(cat "$dir/pids/coordinator.pid")" 600)"
  gone="$(wait_exit "$standby_pid" 120)"
  set +e; wait "$standby_pid"; code=$?; set -e
  "$ROOT/deploy/local/stop.sh" "$dir" > /dev/null 2>&1 || true
  row "finish: a normal finish with a standby" "-" "-" "standby exit $code after $(since "$ended" "$gone")" "-" \
      "$(grep -Eo 'already completed at round [0-9]+' "$dir/logs/standby.log" | head -1 || echo "standby: no completion message")"
}

fast_done=false
for d in "${DRILLS[@]}"; do
  case "$d" in
    fast|stop|busy-port) $fast_done || drill_fast; fast_done=true ;;   # stop and busy-port run on the fast drill's cluster
    exact) drill_exact ;;
    coordinator) drill_coordinator ;;
    finish) drill_finish ;;
  esac
done

{
  echo "| drill | detected | training resumed | end | rounds lost or redone | result |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}" | awk '!seen[$0]++'
} | tee "$OUT/drill.md"
echo "logs under $OUT; the table is $OUT/drill.md"
