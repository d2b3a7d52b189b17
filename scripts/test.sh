#!/usr/bin/env bash
# The whole test suite: unit tests of the core and the CLI, the integration
# scenarios against real registries with skopeo as reference, skiff-js in
# Node and headless Chromium, and the component under jco and wasmtime-py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-prereqs.sh
cargo build --release --locked -p skiff
(cd host-js && npm run build --silent)
cargo test --release --locked --workspace
