#!/usr/bin/env python3
"""Benchmark: `copy` with skiff and Debian's skopeo side by side, alternating,
medians of ROUNDS runs, ratios, and peak RSS of each process.

Images (generated once into $SKIFF_BENCH_DIR, default /tmp/skiff-bench-images):
  big   one ~250 MB gzip layer (incompressible data)
  ten   ten layers of ~20 MB incompressible data
Workloads:
  push  oci: layout -> a freshly started, empty registry (nothing skipped or mounted)
  pull  registry -> a new dir:
  r2r   registry -> a freshly started, empty registry

usage: bench/copy_bench.py [ROUNDS] [--rss] [--only IMAGE:WORKLOAD]   (build first: cargo build --release -p skiff --target x86_64-unknown-linux-musl)
  --rss: instead, pull and push a 100 MiB and a 1 GiB layer to show that
         peak memory does not grow with the layer
"""
import os, shutil, statistics, subprocess, sys, tempfile

from benchlib import SKIFF, Registry, layout, run

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 5
IMAGES = os.environ.get("SKIFF_BENCH_DIR", "/tmp/skiff-bench-images")


def tool(name, src, dst):
    base = [SKIFF] if name == "skiff" else ["skopeo"]
    return base + ["--insecure-policy", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", src, dst]


SPECS = {"big": [250 << 20], "ten": [20 << 20] * 10, "m100": [100 << 20], "g1": [1 << 30]}
RSS_ONLY = "--rss" in sys.argv
CHOSEN = ["m100", "g1"] if RSS_ONLY else ["big", "ten"]
WORKLOADS = ["push", "pull"] if RSS_ONLY else ["push", "pull", "r2r"]
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None


def main():
    # Images are made in a child process: a parent holding hundreds of MB
    # would inflate every child's peak RSS (it counts pages shared at fork).
    for name in CHOSEN:
        subprocess.run([sys.executable, __file__, "--generate", name], check=True)
    images = {name: f"{IMAGES}/{name}" for name in CHOSEN}
    source = Registry()
    try:
        for name, path in images.items():
            subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false", f"oci:{path}:bench", f"docker://127.0.0.1:{source.port}/bench/{name}:1"], check=True)
        # The first run after a build compiles skiff's component into its
        # cache (more time, more memory); keep that out of the figures.
        subprocess.run([SKIFF, "manifest-digest", f"{images[CHOSEN[0]]}/index.json"], check=True, stdout=subprocess.DEVNULL)
        print(f"copy benchmark, {ROUNDS} alternating rounds, medians (peak RSS)")
        for name, path in images.items():
            for workload in WORKLOADS:
                if ONLY and ONLY != f"{name}:{workload}":
                    continue
                res = {"skiff": [], "skopeo": []}
                for i in range(ROUNDS):
                    for t in (["skiff", "skopeo"] if i % 2 == 0 else ["skopeo", "skiff"]):
                        if workload == "pull":
                            out = tempfile.mkdtemp(prefix="skiff-bench-dir-")
                            shutil.rmtree(out)
                            res[t].append(run(tool(t, f"docker://127.0.0.1:{source.port}/bench/{name}:1", f"dir:{out}")))
                            shutil.rmtree(out, ignore_errors=True)
                        else:
                            dest = Registry()
                            src = f"oci:{path}:bench" if workload == "push" else f"docker://127.0.0.1:{source.port}/bench/{name}:1"
                            res[t].append(run(tool(t, src, f"docker://127.0.0.1:{dest.port}/bench/{name}:1")))
                            dest.stop()
                med = {t: statistics.median(x[0] for x in v) for t, v in res.items()}
                rss = {t: max(x[1] for x in v) for t, v in res.items()}
                print(f"  {name:4s} {workload:4s}  skiff {med['skiff']:6.2f} s ({rss['skiff']:5.0f} MiB)"
                      f"  skopeo {med['skopeo']:6.2f} s ({rss['skopeo']:5.0f} MiB)  ratio {med['skiff'] / med['skopeo']:.3f}", flush=True)
    finally:
        source.stop()


if len(sys.argv) > 2 and sys.argv[1] == "--generate":
    layout(f"{IMAGES}/{sys.argv[2]}", SPECS[sys.argv[2]])
else:
    main()
