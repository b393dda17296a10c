#!/usr/bin/env bash
# akkagan-ctl inside the node image (e.g. `docker compose exec coordinator akkagan-ctl 127.0.0.1:9120 gan status`,
# or the Kubernetes preStop hook `akkagan-ctl 127.0.0.1:9120 cluster leave`). The token is the node's: the file named
# by AKKAGAN_CONTROL_TOKEN_FILE (a mounted secret) unless the command gives one, else AKKAGAN_CONTROL_TOKEN, which
# akkagan-ctl reads itself. When the node's control host speaks TLS (AKKAGAN_CONTROL_TLS=1), the host is trusted by the
# certificate file AKKAGAN_CONTROL_TLS_TRUST (node.crt) unless the command says how.
set -euo pipefail
token=()
if [ -n "${AKKAGAN_CONTROL_TOKEN_FILE:-}" ]; then
  case " $* " in
    *" --token "*|*" --token="*|*" --token-file "*|*" --token-file="*) ;;
    *) token=(--token-file "$AKKAGAN_CONTROL_TOKEN_FILE") ;;
  esac
fi
trust=()
if [ "${AKKAGAN_CONTROL_TLS:-}" = "1" ] && [ -n "${AKKAGAN_CONTROL_TLS_TRUST:-}" ]; then
  case " $* " in
    *" --tls "*|*" --tls-"*) ;;
    *) trust=(--tls-certificate "$AKKAGAN_CONTROL_TLS_TRUST") ;;
  esac
fi
exec dotnet "${AKKAGAN_CTL_APP:-/app/ctl/akkagan-ctl.dll}" "${token[@]}" "${trust[@]}" "$@"
