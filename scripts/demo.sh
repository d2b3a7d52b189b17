#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install prerequisites, build
# skiff, start a local registry, copy a small generated image into it with
# skiff, inspect it, list its tags, and copy it back out to an air-gapped
# bundle (a dir: and a docker-archive tarball).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-prereqs.sh
TARGET="$(uname -m)-unknown-linux-musl"
cargo build --release --locked -p skiff --target "$TARGET"
SKIFF=target/$TARGET/release/skiff

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
image="docker://127.0.0.1:$port/demo/hello:1.0"

echo "== skiff copy oci:…/layout:demo $image"
$SKIFF --insecure-policy copy --dest-tls-verify=false "oci:$work/layout:demo" "$image"
echo "== skiff inspect $image"
$SKIFF inspect --tls-verify=false "$image"
echo "== skiff list-tags docker://127.0.0.1:$port/demo/hello"
$SKIFF list-tags --tls-verify=false "docker://127.0.0.1:$port/demo/hello"
echo "== skiff copy $image dir: and docker-archive:"
$SKIFF --insecure-policy copy -q --src-tls-verify=false "$image" "dir:$work/bundle"
$SKIFF --insecure-policy copy -q --src-tls-verify=false "$image" "docker-archive:$work/hello.tar:demo/hello:1.0"
ls "$work/bundle"
tar -tf "$work/hello.tar"
