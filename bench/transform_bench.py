#!/usr/bin/env python3
"""Benchmark: copies that transform layers — `--encryption-key` and
`--decryption-key` (ocicrypt), `--dest-compress-format zstd:chunked` — skiff
and Debian's skopeo side by side, alternating, medians of ROUNDS runs,
ratios, peak RSS.

Images (generated once into $SKIFF_BENCH_DIR, default /tmp/skiff-bench-images):
  big   one ~250 MB gzip layer (incompressible data)
  ten   ten layers of ~20 MB incompressible data
Workloads (oci: layout -> a new oci: layout):
  encrypt  every layer encrypted for an RSA-2048 recipient
  decrypt  the same image encrypted once by skopeo, decrypted by each tool
  chunked  every gzip layer re-encoded as zstd:chunked

usage: bench/transform_bench.py [ROUNDS]   (build first: cargo build --release -p skiff --target x86_64-unknown-linux-musl)
"""
import os, shutil, statistics, subprocess, sys, tempfile

from benchlib import SKIFF, layout, run

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 5
IMAGES = os.environ.get("SKIFF_BENCH_DIR", "/tmp/skiff-bench-images")
SPECS = {"big": [250 << 20], "ten": [20 << 20] * 10}


def tool(name, flags, src, dst):
    base = [SKIFF] if name == "skiff" else ["skopeo"]
    return base + ["--insecure-policy", "copy", "-q", *flags, src, dst]


def main():
    for name in SPECS:
        subprocess.run([sys.executable, __file__, "--generate", name], check=True)
    work = tempfile.mkdtemp(prefix="skiff-bench-crypt-")
    try:
        key, pub = f"{work}/key.pem", f"{work}/pub.pem"
        subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, stderr=subprocess.DEVNULL)
        subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-out", pub], check=True, stderr=subprocess.DEVNULL)
        subprocess.run([SKIFF, "manifest-digest", f"{IMAGES}/ten/index.json"], check=True, stdout=subprocess.DEVNULL)
        print(f"layer transform benchmark, {ROUNDS} alternating rounds, medians (peak RSS)")
        for name in SPECS:
            plain = f"oci:{IMAGES}/{name}:bench"
            encrypted = f"oci:{work}/enc-{name}:bench"
            subprocess.run(tool("skopeo", ["--encryption-key", f"jwe:{pub}"], plain, encrypted), check=True)
            for workload, flags, src in [("encrypt", ["--encryption-key", f"jwe:{pub}"], plain),
                                         ("decrypt", ["--decryption-key", key], encrypted),
                                         ("chunked", ["--dest-compress-format", "zstd:chunked"], plain)]:
                res = {"skiff": [], "skopeo": []}
                for i in range(ROUNDS):
                    for t in (["skiff", "skopeo"] if i % 2 == 0 else ["skopeo", "skiff"]):
                        out = f"{work}/out"
                        res[t].append(run(tool(t, flags, src, f"oci:{out}:bench")))
                        shutil.rmtree(out, ignore_errors=True)
                med = {t: statistics.median(x[0] for x in v) for t, v in res.items()}
                rss = {t: max(x[1] for x in v) for t, v in res.items()}
                print(f"  {name:4s} {workload:8s}  skiff {med['skiff']:6.2f} s ({rss['skiff']:5.0f} MiB)"
                      f"  skopeo {med['skopeo']:6.2f} s ({rss['skopeo']:5.0f} MiB)  ratio {med['skiff'] / med['skopeo']:.3f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if len(sys.argv) > 2 and sys.argv[1] == "--generate":
    layout(f"{IMAGES}/{sys.argv[2]}", SPECS[sys.argv[2]])
else:
    main()
