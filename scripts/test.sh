#!/usr/bin/env bash
# The whole test suite: unit tests of the core and the CLI, and the
# integration scenarios against real registries with skopeo as reference.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-prereqs.sh
cargo build --release --locked -p skiff
cargo test --release --locked --workspace
