#!/usr/bin/env python3
"""Benchmark: the issue's containers-storage round trip, skiff and Debian's
skopeo side by side, alternating, medians of ROUNDS runs, ratios and peak
RSS. Each round, each tool copies the image from an `oci:` layout into a
fresh vfs store (write), then from that store out to `dir:` (read); the
round trip is the sum.

Image: ten layers of ~20 MB incompressible data (the copy benchmark's `ten`).
usage: bench/storage_bench.py [ROUNDS]   (build first: cargo build --release -p skiff --target x86_64-unknown-linux-musl; run as root)
"""
import os, shutil, statistics, subprocess, sys, tempfile

from benchlib import SKIFF, layout, run

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 5
IMAGES = os.environ.get("SKIFF_BENCH_DIR", "/tmp/skiff-bench-images")


def main():
    src = layout(os.path.join(IMAGES, "ten"), [20 << 20] * 10)
    work = tempfile.mkdtemp(prefix="skiff-storage-bench-")
    try:
        times = {(n, s): [] for n in ("skiff", "skopeo") for s in ("write", "read", "round trip")}
        rss = {k: 0.0 for k in times}
        # One untimed round first (skiff's first run may compile its component into the cache).
        for i in range(-1, ROUNDS):
            for name in (["skiff", "skopeo"] if i % 2 == 0 else ["skopeo", "skiff"]):
                store = os.path.join(work, f"store-{name}")
                out = os.path.join(work, f"out-{name}")
                shutil.rmtree(store, ignore_errors=True)
                shutil.rmtree(out, ignore_errors=True)
                image = f"containers-storage:[vfs@{store}/root+{store}/run]localhost/bench:v1"
                base = [SKIFF] if name == "skiff" else ["skopeo"]
                w = run(base + ["--insecure-policy", "copy", "-q", f"oci:{src}:bench", image])
                r = run(base + ["--insecure-policy", "copy", "-q", image, f"dir:{out}"])
                if i >= 0:
                    for stage, (t, m) in (("write", w), ("read", r), ("round trip", (w[0] + r[0], max(w[1], r[1])))):
                        times[(name, stage)].append(t)
                        rss[(name, stage)] = max(rss[(name, stage)], m)
        print(f"containers-storage (vfs), 10 x 20 MiB, {ROUNDS} alternating rounds, medians (peak RSS)")
        for stage in ("write", "read", "round trip"):
            a, b = statistics.median(times[("skiff", stage)]), statistics.median(times[("skopeo", stage)])
            print(f"  {stage:10s}  skiff {a:6.3f} s ({rss[('skiff', stage)]:4.0f} MiB)  "
                  f"skopeo {b:6.3f} s ({rss[('skopeo', stage)]:4.0f} MiB)  ratio {a / b:.3f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
