#!/usr/bin/env python3
"""Benchmark: reading a containers-storage image out to `dir:`, skiff and
Debian's skopeo side by side on the same vfs store, alternating, medians
of ROUNDS runs, ratio and peak RSS. The store is written once by skopeo
(skiff does not write containers-storage yet, so the issue's round trip
oci: -> store -> dir: is measured for its second half only).

Image: ten layers of ~20 MB incompressible data (the copy benchmark's `ten`).
usage: bench/storage_bench.py [ROUNDS]   (build first: cargo build --release -p skiff; run as root)
"""
import os, shutil, statistics, subprocess, sys, tempfile

from benchlib import layout, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIFF = os.environ.get("SKIFF_BIN", os.path.join(ROOT, "target/release/skiff"))
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 5
IMAGES = os.environ.get("SKIFF_BENCH_DIR", "/tmp/skiff-bench-images")


def main():
    src = layout(os.path.join(IMAGES, "ten"), [20 << 20] * 10)
    work = tempfile.mkdtemp(prefix="skiff-storage-bench-")
    try:
        spec = f"[vfs@{work}/root+{work}/run]"
        image = f"containers-storage:{spec}localhost/bench:v1"
        subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", f"oci:{src}:bench", image], check=True)
        times, rss = {"skiff": [], "skopeo": []}, {"skiff": 0.0, "skopeo": 0.0}
        # One untimed run each first (skiff's first run may compile its component into the cache).
        for i in range(-1, ROUNDS):
            for name in (["skiff", "skopeo"] if i % 2 == 0 else ["skopeo", "skiff"]):
                out = os.path.join(work, f"out-{name}")
                shutil.rmtree(out, ignore_errors=True)
                base = [SKIFF] if name == "skiff" else ["skopeo"]
                t, m = run(base + ["--insecure-policy", "copy", "-q", image, f"dir:{out}"])
                if i >= 0:
                    times[name].append(t)
                    rss[name] = max(rss[name], m)
        a, b = statistics.median(times["skiff"]), statistics.median(times["skopeo"])
        print(f"store -> dir: (10 x 20 MiB, vfs)  skiff {a:.3f} s  skopeo {b:.3f} s  ratio {a / b:.3f}  "
              f"peak RSS {rss['skiff']:.0f} / {rss['skopeo']:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
