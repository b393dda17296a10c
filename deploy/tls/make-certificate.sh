#!/usr/bin/env bash
# Makes the cluster's TLS certificate for akkagan.tls (what the compose and Kubernetes kits mount): DIR/node.pfx, a
# PKCS#12 file with a self-signed RSA certificate and its key, and DIR/password, its random password (both mode 600),
# and DIR/node.crt, the certificate alone (PEM, no key: public), which akkagan-ctl --tls-certificate trusts when the
# control hosts speak TLS (akkagan.control.tls). Every node presents this certificate and trusts only its thumbprint,
# so only nodes given these files can join.
#   deploy/tls/make-certificate.sh DIR [DAYS]          (DAYS: validity, default 825)
# Then: compose    AKKAGAN_TLS_DIR=DIR docker compose -f deploy/docker/compose.yaml up
#       Kubernetes kubectl create secret generic akkagan-tls --from-file=node.pfx=DIR/node.pfx --from-file=password=DIR/password --from-file=node.crt=DIR/node.crt
set -euo pipefail
dir="${1:?usage: make-certificate.sh DIR [DAYS]}"
days="${2:-825}"
command -v openssl >/dev/null || { echo "make-certificate.sh: openssl is needed (sudo apt-get install openssl)" >&2; exit 2; }
[ -e "$dir/node.pfx" ] && { echo "make-certificate.sh: $dir/node.pfx exists; remove it first (nodes with the old one could not join)" >&2; exit 2; }
mkdir -p "$dir"
umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
openssl rand -hex 24 > "$dir/password"
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days "$days" -subj "/CN=akkagan-cluster" \
  -keyout "$work/node.key" -out "$work/node.crt" 2>/dev/null
openssl pkcs12 -export -inkey "$work/node.key" -in "$work/node.crt" -out "$dir/node.pfx" -passout "file:$dir/password"
cp "$work/node.crt" "$dir/node.crt" && chmod 644 "$dir/node.crt"
echo "wrote $dir/node.pfx and $dir/password (keep both secret) and $dir/node.crt (public: for akkagan-ctl --tls-certificate)"
