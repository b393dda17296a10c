#!/usr/bin/env bash
# akkagan-ctl inside the node image (e.g. `docker compose exec coordinator akkagan-ctl 127.0.0.1:9120 gan status`,
# or the Kubernetes preStop hook `akkagan-ctl 127.0.0.1:9120 cluster leave`). AKKAGAN_CONTROL_TOKEN is read from the
# environment.
exec dotnet /app/ctl/akkagan-ctl.dll "$@"
