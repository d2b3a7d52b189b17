#!/usr/bin/env bash
# Coverage-guided fuzzing of the core's parsers of untrusted input (issue 15):
# builds core/fuzz's targets with libFuzzer's instrumentation (flags stable
# rustc accepts: the sancov pass, inline 8-bit counters, compare tracing; no
# sanitizer, which would need nightly) and runs each for SECONDS (default 10)
# on its corpus, the seeds in core/fuzz/corpus plus what earlier runs found
# (target/fuzz/corpus). A crash stops the run and leaves its input in
# target/fuzz/artifacts/TARGET/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parsers registry local_images config_files)
host=$(rustc -vV | sed -n 's/^host: //p')
# With --target, these flags reach the fuzzed code only, not build scripts.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
cargo build --release --locked --manifest-path core/fuzz/Cargo.toml --target "$host" --target-dir target/fuzz
for t in "${targets[@]}"; do
    mkdir -p "target/fuzz/corpus/$t" "target/fuzz/artifacts/$t"
    echo "fuzzing $t for ${seconds}s"
    "target/fuzz/$host/release/$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
        -max_len=1048576 -print_final_stats=1 -artifact_prefix="target/fuzz/artifacts/$t/" \
        "target/fuzz/corpus/$t" "core/fuzz/corpus/$t"
done
