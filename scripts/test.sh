#!/usr/bin/env bash
# The whole test suite: unit tests of the core and the CLI, the integration
# scenarios against real registries with skopeo as reference, skiff-js in
# Node and headless Chromium, and the component under jco and wasmtime-py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-prereqs.sh
# Build the whole workspace once: `cargo test --workspace` unifies features
# over every member, and a `-p skiff` build would differ and be redone.
# Except skiff-precompile: host-cli's build script builds it in a target
# directory of its own, and here it would unify Cranelift into the `skiff`
# binary under test, which has no compiler.
# The binary and the tests are built for musl: a static binary starts
# without the dynamic loader and glibc's start-up (README, "Building").
TARGET="$(uname -m)-unknown-linux-musl"
cargo build --release --locked --workspace --exclude skiff-precompile --target "$TARGET"
# The image proxy's client crate (containers-image-proxy, as bootc uses it)
# has dependencies of its own: a separate workspace and target directory.
cargo build --release --locked --manifest-path tests/proxy-crate/Cargo.toml --target-dir target/proxy-crate
(cd host-js && npm run build --silent)
cargo test --release --locked --workspace --exclude skiff-precompile --target "$TARGET"
# The core's unit tests once more with debug assertions (overflow checks):
# it has no heavy dependencies, so this build is quick.
cargo test --locked -p skiff-core --lib
# Supply chain (issue 15): the licenses, duplicates and sources of every
# dependency, as deny.toml allows them. Advisories are not checked: the
# RustSec database is not reachable from here (see the README).
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny --version 0.20.2
cargo deny --locked check licenses bans sources
# Each coverage-guided fuzz target briefly on its corpus (scripts/fuzz.sh).
scripts/fuzz.sh 15
