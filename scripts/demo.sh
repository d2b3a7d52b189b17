#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install prerequisites, build
# skiff, start a local registry, push a small generated image into it, then
# inspect it and list its tags with skiff.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-prereqs.sh
cargo build --release --locked -p skiff
SKIFF=target/release/skiff

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/config.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
registry=$!
trap 'kill $registry 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

python3 scripts/make-image.py "$work/layout" demo
skopeo --insecure-policy copy -q "oci:$work/layout:demo" "docker://127.0.0.1:$port/demo/hello:1.0" --dest-tls-verify=false

echo "== skiff inspect docker://127.0.0.1:$port/demo/hello:1.0"
$SKIFF inspect --tls-verify=false "docker://127.0.0.1:$port/demo/hello:1.0"
echo "== skiff list-tags docker://127.0.0.1:$port/demo/hello"
$SKIFF list-tags --tls-verify=false "docker://127.0.0.1:$port/demo/hello"
