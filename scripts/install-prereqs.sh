#!/usr/bin/env bash
# Installs what building and testing skiff needs on a fresh Debian machine:
# - Debian packages: the Distribution registry, skopeo (the reference the
#   compatibility tests compare against), openssl and htpasswd for the
#   TLS/auth registries, hyperfine, Chromium for the browser test, tinyproxy
#   (the HTTP proxy of the proxy tests), GnuPG (the signing tests), PyNaCl
#   (it decrypts the sigstore keys skiff writes, in the tests), and the
#   Docker Engine (docker.io; the tests start their own dockerd), g++ (the
#   fuzz targets build libFuzzer), podman (it reads and uses the
#   containers-storage stores skiff writes) and attr (getfattr, to compare
#   the extended attributes of the layers' files), musl-tools (musl-gcc, for
#   the C parts of ring, zstd and jemalloc in the static musl binary) and
#   make (jemalloc's build);
# - Rust targets <arch>-unknown-linux-musl (the `skiff` binary),
#   wasm32-wasip2 (the core component) and
#   wasm32-unknown-unknown (skiff-js), and wasm-bindgen-cli matching the
#   wasm-bindgen crate;
# - npm packages of host-js (jco, preview2-shim, playwright-core) and the
#   `wasmtime` package from PyPI for the Python example.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
for pair in docker-registry:docker-registry skopeo:skopeo htpasswd:apache2-utils openssl:openssl curl:curl \
            hyperfine:hyperfine python3:python3 chromium:chromium node:nodejs script:bsdutils \
            dockerd:docker.io tinyproxy:tinyproxy gpg:gnupg gpgconf:gpgconf gpg-agent:gpg-agent \
            g++:g++ podman:podman getfattr:attr musl-gcc:musl-tools make:make; do
  cmd=${pair%%:*}; pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
# PyNaCl: an independent decrypter of the sigstore key files skiff writes.
/usr/bin/python3 -c 'import nacl.secret' 2>/dev/null || need+=(python3-nacl)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

for target in "$(uname -m)-unknown-linux-musl" wasm32-wasip2 wasm32-unknown-unknown; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done

# wasm-bindgen-cli must be exactly the version of the wasm-bindgen crate.
WB_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  # Without --locked: its lockfile pins a crate version the registry no longer serves.
  cargo install -q wasm-bindgen-cli --version "$WB_VERSION"
fi

python3 -c 'import wasmtime' 2>/dev/null || python3 -m pip install -q wasmtime==50.0.1

# `npm ci` trips over the optional per-platform packages of jco's dependencies
# (npm 11 leaves them out of the lock file); `npm install` keeps to the lock.
(cd host-js && npm install --no-audit --no-fund --loglevel=error)
