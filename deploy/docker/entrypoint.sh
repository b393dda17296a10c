#!/usr/bin/env bash
# The AkkaGan node image's entry point: the AKKAGAN_* environment (the names deploy/local/run.sh uses) turned into
# `akkagan node` flags, so Docker Compose and Kubernetes configure nodes the same way. Extra arguments (training flags
# for the coordinator) are passed on.
#
#   AKKAGAN_ROLES                coordinator | generator | discriminator[,..]            (required)
#   AKKAGAN_HOST                 listen address                                          (default 0.0.0.0)
#   AKKAGAN_PUBLIC_HOST          the name other nodes reach this one by                  (default: hostname -f)
#   AKKAGAN_PORT                 Akka.Remote port                                        (default 4053)
#   AKKAGAN_SEEDS                HOST:PORT[,..] of the seed node(s)                      (none: discovery, or this node starts the cluster)
#   AKKAGAN_CONTACT_POINTS       HOST:PORT[,..] of every node: found by config discovery instead of seeds (akkagan.discovery)
#   AKKAGAN_DISCOVERY            dns: find the nodes by the A records of AKKAGAN_DISCOVERY_SERVICE instead (publish each
#                                node's IP as its AKKAGAN_PUBLIC_HOST); or another akka.discovery method
#   AKKAGAN_DISCOVERY_SERVICE    the name discovery looks up                              (default akkagan)
#   AKKAGAN_REQUIRED_CONTACT_POINTS  contact points that answer before the lowest forms the cluster (default 2)
#   AKKAGAN_CONTROL_HOST         control host address (non-loopback needs AKKAGAN_CONTROL_TOKEN) (default 127.0.0.1)
#   AKKAGAN_CONTROL_PORT         control port                                            (default 9120)
#   AKKAGAN_CONTROL_TOKEN        control token (read by akkagan and akkagan-ctl themselves)
#   AKKAGAN_CONTROL_TOKEN_FILE   a file holding it instead (a mounted secret; akkagan-ctl in the image reads it too)
#   AKKAGAN_CONTROL_READ_ONLY_TOKEN_FILE  a file holding the read-only token (status, watch, health, cluster show)
#   AKKAGAN_METRICS_PORT         Prometheus scrape endpoint on 0.0.0.0:PORT/metrics        (default: off)
#   AKKAGAN_TLS_CERTIFICATE      TLS between the nodes (akkagan.tls): the PKCS#12 file     (default: plain TCP)
#   AKKAGAN_TLS_PASSWORD_FILE    a file holding its password (a mounted secret)
#   AKKAGAN_CONTROL_TLS          1: the control host speaks TLS with that certificate (akkagan.control.tls)
#   AKKAGAN_CONTROL_TLS_TRUST    the certificate alone (node.crt) for the image's akkagan-ctl to trust the host by
#   AKKAGAN_HEALTH_PORT          /alive and /ready on 0.0.0.0:PORT                       (default 8558; empty: off)
#   AKKAGAN_DISCRIMINATOR_NODES  coordinator: discriminator nodes to wait for            (default 1)
#   AKKAGAN_WAIT_TIMEOUT         coordinator: seconds to wait for them                   (default 600)
#   AKKAGAN_CONFIG               HOCON file layered over the built-in cluster.hocon      (default: none)
#   AKKAGAN_OUT                  coordinator: the run's output folder                    (default /data/run)
#   AKKAGAN_STATE_PROVIDER       state store: sqlite | postgresql                        (default sqlite)
#   AKKAGAN_STATE_STORE          state store connection string, the same on every node   (default: the coordinator's <out>/state.db)
#   AKKAGAN_RUN_ID               the run's id in the state store                         (default: new at every start)
#   AKKAGAN_STANDBY              coordinator: 1 = stand by to take a lost coordinator's run over (--standby; needs
#                                AKKAGAN_RUN_ID and AKKAGAN_STATE_STORE, the same as the coordinator's)
#   AKKAGAN_DRY_RUN              1: print the command instead of running it
set -euo pipefail

: "${AKKAGAN_ROLES:?set AKKAGAN_ROLES to coordinator, generator or discriminator (comma-separated for several)}"
APP="${AKKAGAN_APP:-/app/akkagan.dll}"
args=(node --roles "$AKKAGAN_ROLES"
      --host "${AKKAGAN_HOST:-0.0.0.0}"
      --public-host "${AKKAGAN_PUBLIC_HOST:-$(hostname -f 2>/dev/null || hostname)}"
      --port "${AKKAGAN_PORT:-4053}"
      --control-host "${AKKAGAN_CONTROL_HOST:-127.0.0.1}"
      --control-port "${AKKAGAN_CONTROL_PORT:-9120}")
[ -n "${AKKAGAN_SEEDS:-}" ] && args+=(--seeds "$AKKAGAN_SEEDS")
[ -n "${AKKAGAN_DISCOVERY:-}" ] && args+=(--discovery "$AKKAGAN_DISCOVERY")
[ -n "${AKKAGAN_CONTACT_POINTS:-}" ] && args+=(--contact-points "$AKKAGAN_CONTACT_POINTS")
[ -n "${AKKAGAN_CONTROL_TOKEN_FILE:-}" ] && args+=(--control-token-file "$AKKAGAN_CONTROL_TOKEN_FILE")
[ -n "${AKKAGAN_CONTROL_READ_ONLY_TOKEN_FILE:-}" ] && args+=(--control-read-only-token-file "$AKKAGAN_CONTROL_READ_ONLY_TOKEN_FILE")

# The health and metrics endpoints listen on every interface inside the container and the state store comes from the
# environment: a config overlay carries them, layered over the user's AKKAGAN_CONFIG (one --config file is accepted).
hocon_string() { local v="${1//\\/\\\\}"; v="${v//\"/\\\"}"; printf '"%s"' "$v"; }
overlay_lines=()
if [ -n "${AKKAGAN_TLS_CERTIFICATE:-}" ]; then
  tls_password=""
  if [ -n "${AKKAGAN_TLS_PASSWORD_FILE:-}" ]; then
    [ -r "$AKKAGAN_TLS_PASSWORD_FILE" ] || { echo "akkagan-node: AKKAGAN_TLS_PASSWORD_FILE $AKKAGAN_TLS_PASSWORD_FILE cannot be read" >&2; exit 2; }
    tls_password="$(tr -d '\r\n' < "$AKKAGAN_TLS_PASSWORD_FILE")"
  fi
  overlay_lines+=("akkagan.tls { enabled = on, certificate = $(hocon_string "$AKKAGAN_TLS_CERTIFICATE"), password = $(hocon_string "$tls_password") }")
fi
[ "${AKKAGAN_CONTROL_TLS:-}" = "1" ] && overlay_lines+=("akkagan.control.tls.enabled = on")
[ -n "${AKKAGAN_DISCOVERY_SERVICE:-}" ] && overlay_lines+=("akkagan.discovery.service-name = $(hocon_string "$AKKAGAN_DISCOVERY_SERVICE")")
[ -n "${AKKAGAN_REQUIRED_CONTACT_POINTS:-}" ] && overlay_lines+=("akkagan.discovery.required-contact-points = ${AKKAGAN_REQUIRED_CONTACT_POINTS}")
[ -n "${AKKAGAN_METRICS_PORT:-}" ] && overlay_lines+=("akkagan.metrics { prometheus-host = \"0.0.0.0\", prometheus-port = ${AKKAGAN_METRICS_PORT} }")
[ -n "${AKKAGAN_HEALTH_PORT-8558}" ] && overlay_lines+=("akkagan.probes { enabled = on, host = \"0.0.0.0\", port = ${AKKAGAN_HEALTH_PORT-8558} }")
[ -n "${AKKAGAN_STATE_PROVIDER:-}" ] && overlay_lines+=("akkagan.persistence.provider = $(hocon_string "$AKKAGAN_STATE_PROVIDER")")
[ -n "${AKKAGAN_STATE_STORE:-}" ] && overlay_lines+=("akkagan.persistence.connection-string = $(hocon_string "$AKKAGAN_STATE_STORE")")
[ -n "${AKKAGAN_RUN_ID:-}" ] && overlay_lines+=("akkagan.persistence.run-id = $(hocon_string "$AKKAGAN_RUN_ID")")
config="${AKKAGAN_CONFIG:-}"
if [ "${#overlay_lines[@]}" -gt 0 ]; then
  overlay="$(mktemp /tmp/akkagan-node-XXXXXX.hocon)"
  chmod 600 "$overlay"   # it may hold the database password
  { [ -n "$config" ] && cat "$config"; printf '\n'; printf '%s\n' "${overlay_lines[@]}"; } > "$overlay"
  config="$overlay"
fi
[ -n "$config" ] && args+=(--config "$config")

case ",$AKKAGAN_ROLES," in
  *,coordinator,*)
    args+=(--discriminator-nodes "${AKKAGAN_DISCRIMINATOR_NODES:-1}" --wait-timeout "${AKKAGAN_WAIT_TIMEOUT:-600}" --out "${AKKAGAN_OUT:-/data/run}")
    [ "${AKKAGAN_STANDBY:-}" = "1" ] && args+=(--standby) ;;
esac

if [ "${AKKAGAN_DRY_RUN:-}" = "1" ]; then
  printf '%q ' dotnet "$APP" "${args[@]}" "$@"; echo
  exit 0
fi
exec dotnet "$APP" "${args[@]}" "$@"
