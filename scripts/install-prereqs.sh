#!/usr/bin/env bash
# Installs what building and testing skiff needs on a fresh Debian machine:
# the Distribution registry, Debian's skopeo (the reference), openssl and
# htpasswd for the TLS/auth registry, hyperfine for benchmarks, and the
# wasm32-wasip2 target the core component is built for.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
for pair in docker-registry:docker-registry skopeo:skopeo htpasswd:apache2-utils openssl:openssl curl:curl hyperfine:hyperfine python3:python3; do
  cmd=${pair%%:*}; pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
