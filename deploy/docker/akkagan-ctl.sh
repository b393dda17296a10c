#!/usr/bin/env bash
# akkagan-ctl inside the node image (e.g. `docker compose exec coordinator akkagan-ctl 127.0.0.1:9120 gan status`,
# or the Kubernetes preStop hook `akkagan-ctl 127.0.0.1:9120 cluster leave`). The token is the node's: the file named
# by AKKAGAN_CONTROL_TOKEN_FILE (a mounted secret) unless the command gives one, else AKKAGAN_CONTROL_TOKEN, which
# akkagan-ctl reads itself.
set -euo pipefail
token=()
if [ -n "${AKKAGAN_CONTROL_TOKEN_FILE:-}" ]; then
  case " $* " in
    *" --token "*|*" --token="*|*" --token-file "*|*" --token-file="*) ;;
    *) token=(--token-file "$AKKAGAN_CONTROL_TOKEN_FILE") ;;
  esac
fi
exec dotnet "${AKKAGAN_CTL_APP:-/app/ctl/akkagan-ctl.dll}" "${token[@]}" "$@"
